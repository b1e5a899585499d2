// Status and Result<T>: "could not evaluate" is not "the verdict".
// A Status says why an operation could not produce its value (bad input, DNS trouble, ...);
// protocol outcomes (pass, fail, ...) are verdict enums in the protocol headers instead.
#ifndef CREDENCE_STATUS_H_
#define CREDENCE_STATUS_H_

#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace credence {

enum class StatusCode {
  kOk = 0,
  kInvalidInput,  // malformed input: syntax errors, bad base64, not a message
  kTooLarge,      // a documented bound in Limits was exceeded
  kTempFail,      // temporary failure (DNS SERVFAIL, timeout, deadline): try again later
  kNotFound,      // a looked-up object does not exist (NXDOMAIN, no such file)
  kUnsupported,   // valid but not supported (unknown algorithm, version)
  kIoError,       // the operating system refused (open, read)
  kInternal,      // a bug or a library failure that should not happen
};

// Returns the lower-case name of `code` ("ok", "invalid_input", ...).
std::string_view StatusCodeName(StatusCode code);
// Prints StatusCodeName (for test frameworks and logs).
std::ostream& operator<<(std::ostream& os, StatusCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return {StatusCode::kInvalidInput, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status TempFail(std::string m) { return {StatusCode::kTempFail, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_input: message" (or "ok").
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. Accessing value() of an error is a bug (asserted).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // implicit by design
  Result(Status status) : v_(std::move(status)) {}     // implicit; must not be OK

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace credence

#endif  // CREDENCE_STATUS_H_
