#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace te {

// Cuts a byte stream into lines ("\n", a trailing "\r" dropped). A line longer than maxLength
// is cut there and marked, so one runaway line cannot exhaust memory or the server's log table.
// Not thread-safe: one per stream.
class LineBuffer {
public:
    using Sink = std::function<void(std::string)>;

    LineBuffer(std::size_t maxLength, Sink sink) : _maxLength(maxLength), _sink(std::move(sink)) {}
    void append(const char* data, std::size_t size);
    // Emits an unterminated last line, if any.
    void flush();

private:
    void emit();

    std::size_t _maxLength;
    Sink _sink;
    std::string _line;
    bool _skipping = false;  // the rest of an over-long line is being dropped
};

}  // namespace te
