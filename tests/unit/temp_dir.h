// A temporary directory for one test, removed with everything in it when the test ends.
#ifndef CREDENCE_TESTS_UNIT_TEMP_DIR_H_
#define CREDENCE_TESTS_UNIT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace credence::testing {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/credence-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `data` to `name` (parents created) and returns the full path.
  std::string Write(const std::string& name, const std::string& data) {
    std::filesystem::path p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }
};

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_TEMP_DIR_H_
