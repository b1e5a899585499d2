// Splitting an mbox from bytes handed out in pieces: shared by the mailbox tests and the
// Content-Length (mutt) tests.
#ifndef CREDENCE_TESTS_UNIT_MBOX_SPLIT_FIXTURE_H_
#define CREDENCE_TESTS_UNIT_MBOX_SPLIT_FIXTURE_H_

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "archive/mailbox.h"

namespace credence::testing {

// Hands out `data` in reads of at most `chunk` bytes, or cut at the offsets `cuts`; fails at
// the end when `fail`.
class PieceReader final : public ByteReader {
 public:
  PieceReader(std::string data, size_t chunk, std::vector<size_t> cuts = {}, bool fail = false)
      : data_(std::move(data)), chunk_(chunk), cuts_(std::move(cuts)), fail_(fail) {}
  size_t Read(char* buf, size_t n, Status* error) override {
    size_t k = std::min(n, std::min(chunk_, data_.size() - pos_));
    for (size_t c : cuts_) {
      if (c > pos_ && c - pos_ < k) k = c - pos_;
    }
    if (k == 0 && fail_) *error = Status::IoError("read failed: test");
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t chunk_;
  std::vector<size_t> cuts_;
  bool fail_;
  size_t pos_ = 0;
};

inline std::vector<SourceItem> Split(std::unique_ptr<ByteReader> reader, SourceOptions options = {}) {
  MboxSplitter s(std::move(reader), "box", options);
  std::vector<SourceItem> items;
  SourceItem item;
  while (s.Next(&item)) items.push_back(item);
  return items;
}

inline std::vector<SourceItem> Split(const std::string& data, size_t chunk, SourceOptions options = {}) {
  return Split(std::make_unique<PieceReader>(data, chunk), options);
}

}  // namespace credence::testing

#endif  // CREDENCE_TESTS_UNIT_MBOX_SPLIT_FIXTURE_H_
