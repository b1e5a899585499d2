// Reading a whole file that someone else named (a zone file, the configuration, a message to
// check): bounded, and only a regular file, so a FIFO, a device or a directory named by
// mistake is an error at once instead of a hang, an endless read or an empty input.
#ifndef CREDENCE_FILE_H_
#define CREDENCE_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence {

// Reads the regular file `path` whole into *text. Refuses anything else, and a file of more
// than `max_bytes`: the size is checked with fstat before reading, and no more than
// max_bytes + 1 bytes are ever read, even from a file that grows meanwhile. Errors
// (kIoError) name the file as `what` 'path': "zone file 'x.zone' is not a regular file",
// "cannot open configuration file 'c.toml': No such file or directory".
Status ReadRegularFile(const std::string& path, std::string_view what, size_t max_bytes,
                       std::string* text);

// "64 MiB", "4 KiB", "1000 bytes": a limit as the messages above say it.
std::string BytesText(size_t bytes);

}  // namespace credence

#endif  // CREDENCE_FILE_H_
