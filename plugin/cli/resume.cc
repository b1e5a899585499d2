#include "resume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "archive/mailbox.h"

namespace credence::cli {
namespace {

constexpr char kMagic[] = "credence verify --resume state 1";
constexpr size_t kEdgeBytes = 64 << 10;
constexpr size_t kMaxStateBytes = 64 << 20;

// FNV-1a, 64 bits: a change detector (not a defence against someone forging an archive).
class Fnv {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ull;
  }
  void Add(const std::string& s) { Add(s.data(), s.size() + 1); }  // with its NUL: a separator
  std::string Hex() const {
    char out[17];
    std::snprintf(out, sizeof out, "%016" PRIx64, h_);
    return out;
  }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// One line, whatever `s` holds: '%', CR, LF and TAB escaped as %XX.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string FileFingerprint(const std::string& path, uint64_t size) {
  Fnv h;
  std::ifstream in(path, std::ios::binary);
  std::string buf(std::min<uint64_t>(size, kEdgeBytes), '\0');
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  h.Add(buf.data(), static_cast<size_t>(in.gcount()));
  if (size > kEdgeBytes) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(size - std::min<uint64_t>(size - kEdgeBytes, kEdgeBytes)));
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Add(buf.data(), static_cast<size_t>(in.gcount()));
  }
  return h.Hex();
}

std::string DirFingerprint(const std::string& path, size_t* files) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, uint64_t>> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) {
      entries.emplace_back(fs::relative(it->path(), path, e2).string(), it->file_size(e2));
    }
  }
  std::sort(entries.begin(), entries.end());
  Fnv h;
  for (const auto& [name, size] : entries) {
    h.Add(name);
    h.Add(&size, sizeof size);
  }
  *files = entries.size();
  return h.Hex();
}

}  // namespace

Result<std::vector<std::string>> InputFingerprints(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const std::string& arg : files) {
    if (arg == "-") {
      return Status::Invalid("standard input ('-') cannot be resumed: it cannot be read again");
    }
    std::string path = arg;
    uint64_t index = 0;
    SplitMessageAddress(arg, &path, &index);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      out.push_back("missing " + Escape(arg));
    } else if (S_ISDIR(st.st_mode)) {
      size_t n = 0;
      const std::string hash = DirFingerprint(path, &n);
      out.push_back("dir " + Escape(arg) + " " + std::to_string(n) + " " + hash);
    } else {
      const uint64_t size = static_cast<uint64_t>(st.st_size);
      out.push_back("file " + Escape(arg) + " " + std::to_string(size) + " " +
                    FileFingerprint(path, size));
    }
  }
  return out;
}

Result<std::optional<ResumeState>> ReadResumeState(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<ResumeState>();
    return Status::IoError(path + ": " + std::strerror(errno));
  }
  ResumeState s;
  std::string line;
  bool magic = false, end = false;
  size_t bytes = 0;
  auto bad = [&](const std::string& why) {
    return Status::Invalid(path + ": not a credence verify --resume state file (" + why + ")");
  };
  while (std::getline(in, line)) {
    bytes += line.size() + 1;
    if (bytes > kMaxStateBytes) return bad("over 64 MiB");
    if (!magic) {
      if (line != kMagic) return bad("its first line is not '" + std::string(kMagic) + "'");
      magic = true;
      continue;
    }
    const size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp);
    const std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    try {
      if (key == "input")
        s.inputs.push_back(Unescape(value));
      else if (key == "options")
        s.options = Unescape(value);
      else if (key == "output")
        s.output = Unescape(value);
      else if (key == "output_start")
        s.output_start = std::stoull(value);
      else if (key == "done")
        s.done = std::stoull(value);
      else if (key == "output_bytes")
        s.output_bytes = std::stoull(value);
      else if (key == "seconds")
        s.seconds = std::stod(value);
      else if (key == "complete")
        s.complete = value == "yes";
      else if (key == "summary")
        s.summary += Unescape(value) + "\n";
      else if (key == "end")
        end = true;
      else
        return bad("unknown line '" + key + "'");
    } catch (const std::exception&) {
      return bad("a bad number on the line '" + key + "'");
    }
  }
  if (!magic) return bad("empty");
  if (!end) return bad("cut short: no end line");
  return std::optional<ResumeState>(std::move(s));
}

Status WriteResumeState(const std::string& path, const ResumeState& s) {
  std::string text = std::string(kMagic) + "\n";
  for (const std::string& in : s.inputs) text += "input " + Escape(in) + "\n";
  text += "options " + Escape(s.options) + "\n";
  text += "output " + Escape(s.output) + "\n";
  text += "output_start " + std::to_string(s.output_start) + "\n";
  text += "done " + std::to_string(s.done) + "\n";
  text += "output_bytes " + std::to_string(s.output_bytes) + "\n";
  char seconds[40];
  std::snprintf(seconds, sizeof seconds, "%.3f", s.seconds);
  text += std::string("seconds ") + seconds + "\n";
  text += std::string("complete ") + (s.complete ? "yes" : "no") + "\n";
  std::istringstream summary(s.summary);
  for (std::string line; std::getline(summary, line);) text += "summary " + Escape(line) + "\n";
  text += "end\n";

  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError(std::strerror(errno));
  ::fchmod(fd, 0644);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError(std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::IoError(std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::IoError(std::strerror(e));
  }
  // The rename itself is durable once the directory is.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

std::string ResumeMismatch(const ResumeState& saved, const ResumeState& now) {
  if (saved.options != now.options) {
    // Name the first option that differs ("zone=a.zone" then, "zone=b.zone" now).
    std::istringstream a(saved.options), b(now.options);
    std::string then, now_word;
    while (a >> then && b >> now_word && then == now_word) {
    }
    return "the options differ from the run it began (then " + then + ", now " + now_word + ")";
  }
  if (saved.output != now.output) {
    return "the output differs (then " + saved.output + ", now " + now.output + ")";
  }
  if (saved.inputs.size() != now.inputs.size()) return "the inputs differ in number";
  for (size_t i = 0; i < saved.inputs.size(); ++i) {
    if (saved.inputs[i] == now.inputs[i]) continue;
    const bool dir = now.inputs[i].rfind("dir ", 0) == 0;
    // "file NAME SIZE HASH": the same size and hash under another name is another name only.
    const auto tail = [](const std::string& f) {
      size_t cut = f.rfind(' ');
      cut = cut == std::string::npos || cut == 0 ? std::string::npos : f.rfind(' ', cut - 1);
      return cut == std::string::npos ? std::string() : f.substr(cut);
    };
    const bool renamed = !dir && !tail(saved.inputs[i]).empty() &&
                         tail(saved.inputs[i]) == tail(now.inputs[i]);
    return "input " + std::to_string(i + 1) + " is not the archive the run began with (then '" +
           saved.inputs[i] + "', now '" + now.inputs[i] + "': " +
           (renamed ? "its name changed; the same command, with the same names, goes on)"
            : dir   ? "the names or sizes of its files changed)"
                    : "its size or its first or last 64 KiB changed)");
  }
  return "";
}

}  // namespace credence::cli
