// Message sources for offline re-verification: single message files, stdin, mbox (mboxo and
// mboxrd, optionally gzip-compressed) and maildir folders (cur/ and new/). Streaming: one
// message in memory at a time, whatever the archive size.
#ifndef CREDENCE_PLUGIN_ARCHIVE_MAILBOX_H_
#define CREDENCE_PLUGIN_ARCHIVE_MAILBOX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "credence/status.h"

namespace credence {

// How ">From " lines in an mbox body are unquoted.
enum class MboxFormat {
  kMboxrd,  // every line matching ^>+From  loses one '>' (default; exact for mboxrd, and the
            // same as mboxo for the common ">From " case)
  kMboxo,   // only lines matching ^>From  lose their '>' (">>From " stays)
  // mboxcl2, as mutt writes (mbox_type=mbox): no quoting at all, each message's extent given
  // by its Content-Length field (the body's bytes after the empty line that ends the
  // header). A message is read by its Content-Length when the length lands exactly on the
  // next "From " line (after the one empty line the writer adds) or on the end of the
  // stream; otherwise (no such field, a bad number, a length past the end, over the size
  // limit, or landing anywhere else) it is split at the next "From " line as in the other
  // formats, unquoted nothing, and a notice item says so. A length that holds lines looking
  // like the start of another mbox message ("From " after an empty line) is followed, and a
  // notice item says how many it held.
  kContentLength,
};
// Read as kMboxrd or kMboxo, the first message of a file whose Content-Length runs past the
// "From " line that ended it gets a notice item saying the file looks like a Content-Length
// mbox (once per file; the split is not changed).

struct SourceOptions {
  MboxFormat mbox_format = MboxFormat::kMboxrd;
  // A single message file larger than this is kept up to here and judged as cut
  // (SourceItem::original_size); a larger message inside an mbox is reported as an error item
  // and skipped. Either way the rest is read and dropped: memory stays bounded. Default 64
  // MiB, as Limits::max_message_bytes.
  size_t max_message_bytes = 64u << 20;
  // Maildir++ subfolders (".Archive/", ".Sent/": directories whose names start with '.' and
  // that hold cur/ or new/) are read after the maildir's own messages, sorted by name, one
  // level deep (Maildir++ nests with dots in the name, ".Archive.2024", not directories).
  // Off: each one found gives a notice item saying it was not read.
  bool maildir_subfolders = false;
  // Not 0: an mbox message whose text with every bare LF turned into CRLF (what
  // Message::Parse makes of it) is at most this long is handed out in that form
  // (SourceItem::crlf), so the reader's copy is also the normalisation and the parse copies
  // nothing. The archive runner sets it to Limits::max_message_bytes.
  size_t normalise_up_to = 0;
};

// One item from a source: a message, or an error about one position in the source.
struct SourceItem {
  std::string name;   // "path" for a file, "path:N" for the Nth message (1-based) of an mbox,
                      // "path/cur/file" for maildir
  std::string bytes;  // the message as stored (mbox: envelope line removed, >From unquoted)
  Status error;       // not OK: this item could not be read (bytes empty)
  std::string envelope_from;  // mbox only: the address on the "From " line ("" if none)
  // The message's whole size when `bytes` is only its first max_message_bytes (a single
  // message file over the limit: judged as cut, Message::Parse's original_size); 0 otherwise.
  size_t original_size = 0;
  // Not a message: something the reader tells about the input at `name` (a Maildir++
  // subfolder left unread). `bytes` empty, `error` OK.
  std::string notice;
  // `bytes` has CRLF line ends where the message as stored had a bare LF
  // (SourceOptions::normalise_up_to): Message::ParseNormalised takes it as it is. The stored
  // message is `stored_size` bytes long.
  bool crlf = false;
  size_t stored_size = 0;
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Fills `item` with the next message (or per-item error) and returns true; false at the end.
  virtual bool Next(SourceItem* item) = 0;
};

// Opens `path`: "-" is stdin (a single message, or an mbox when it starts with "From "); a
// directory with cur/ or new/ is a maildir (files in cur/ then new/, sorted by name; Maildir++
// subfolders per SourceOptions::maildir_subfolders), and a directory named cur or new inside
// one is read alone (its files sorted by name); a file
// starting with the gzip magic is decompressed while read; a file whose first line starts with
// "From " is an mbox; anything else is one message. kIoError/kNotFound when it cannot be
// opened, kInvalidInput for a directory that is not a maildir.
Result<std::unique_ptr<MessageSource>> OpenMessageSource(const std::string& path,
                                                         const SourceOptions& options = {});

// One message of an input, as the output names it: "box.mbox:42" is the 42nd message of the
// file box.mbox (N >= 1; "box.eml:1" is the file itself). True, with *path and *index set,
// only when `arg` does not name an existing file or directory itself (a maildir file name
// "1700000000.x:2,S" is a file) and the part before its last ':' is a regular file.
bool SplitMessageAddress(const std::string& arg, std::string* path, uint64_t* index);

// A ByteReader's own buffer (zlib's input) and what it reads from a file at a time; a Read of
// at least this much from a plain file goes straight into the caller's buffer.
constexpr size_t kByteReaderChunk = 64 << 10;

// Reads bytes: a plain file, or a gzip file (RFC 1952, one or more members) inflated through
// zlib (the only zlib door). A gzip stream cut short, corrupt compressed data and a trailer
// check that fails are errors naming the file and what is wrong, reported after every byte
// that inflated. Exposed for tests.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Reads up to `n` bytes; returns the count, 0 at the end; sets *error on failure.
  virtual size_t Read(char* buf, size_t n, Status* error) = 0;
  // After an error: true when every byte returned before it is as stored (only a check over
  // the whole stream failed, or bytes that are not gzip follow its end), false when the bytes
  // stop short of the stream's end (cut short, corrupt data, a read failure).
  virtual bool BytesWhole() const { return false; }
};
Result<std::unique_ptr<ByteReader>> OpenByteReader(const std::string& path);
// The same reader over bytes already in memory (a gzip attachment of a DMARC report
// message): inflated when they start with the gzip magic, as they are otherwise. `name`
// names them in errors.
std::unique_ptr<ByteReader> OpenMemoryByteReader(std::string bytes, std::string name);

// Splits an mbox stream into messages. Exposed for tests and the fuzz target.
//
// A message runs from the line after its "From " line up to the next line that starts with
// "From " (or the end of the stream). The splitter finds that line by scanning its buffer (16
// bytes a step for a '\n' followed by 'F' or '>'), keeps the message whole in the buffer, and
// copies it into SourceItem::bytes once, unquoting the ">From " lines (only lines that start
// with '>' cost anything) and leaving out the blank line that ends it. A message over
// SourceOptions::max_message_bytes is dropped from the buffer as soon as it is known to be over
// (an error item), and so is text before the first "From " line; an envelope sender is kept up
// to max_message_bytes long. The output does not depend on how the reader splits the bytes.
//
// A read error ends the stream. The message it cuts short is an error item, never judged as
// if whole ("not judged: cut short by ..."); when the reader says the bytes are whole
// (BytesWhole), that message is given as read and the error follows as an item of its own.
class MboxSplitter {
 public:
  MboxSplitter(std::unique_ptr<ByteReader> reader, std::string name, const SourceOptions& options);
  bool Next(SourceItem* item);

 private:
  bool Fill();
  bool Scan(bool* discard, size_t* span);
  void FindQuoted(size_t limit, size_t end, bool final);
  void ReadFromLine();
  bool ByLength(SourceItem* item);
  bool FindHeaderEnd(size_t* body);
  void StartOnce();
  void ClearItem(SourceItem* item);
  void CopyUnquoted(size_t span, SourceItem* item);
  void NoteContentLength(size_t span);
  void Notice(const std::string& text);

  std::unique_ptr<ByteReader> reader_;
  std::string name_;
  SourceOptions options_;
  std::unique_ptr<char[]> buf_;  // bytes read: [pos_, end_) are not consumed yet
  size_t cap_ = 0;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  Status read_error_;
  bool read_whole_ = false;  // read_error_ leaves the bytes read whole (ByteReader::BytesWhole)
  bool started_ = false;
  bool pending_ = false;        // a "From " line was read: the next message starts at pos_
  std::string envelope_;        // its sender
  // The current message's lines that start with '>', and those of them that are quoted
  // (offsets from pos_); gt_lines_ before quote_next_ are judged.
  std::vector<size_t> gt_lines_;
  std::vector<size_t> quoted_;
  size_t quote_next_ = 0;
  uint64_t index_ = 0;
  // A notice about the message just given, handed out as the next item.
  std::string notice_name_, notice_;
  bool cl_noted_ = false;  // NoteContentLength told once for this file
};

}  // namespace credence

#endif  // CREDENCE_PLUGIN_ARCHIVE_MAILBOX_H_
