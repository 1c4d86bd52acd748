#include "worker/LineBuffer.h"

namespace te {

void LineBuffer::append(const char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        char ch = data[i];
        if (ch == '\n') {
            if (_skipping) {
                _skipping = false;
            } else {
                emit();
            }
            continue;
        }
        if (_skipping) continue;
        _line += ch;
        if (_line.size() >= _maxLength) {
            _line += " [line truncated]";
            emit();
            _skipping = true;
        }
    }
}

void LineBuffer::flush() {
    if (!_line.empty()) emit();
    _skipping = false;
}

void LineBuffer::emit() {
    if (!_line.empty() && _line.back() == '\r') _line.pop_back();
    _sink(std::move(_line));
    _line.clear();
}

}  // namespace te
