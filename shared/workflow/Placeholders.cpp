#include <algorithm>

#include "shared/Errors.h"
#include "shared/workflow/Workflow.h"

// The placeholder syntax, shared by the loader (which checks names) and the worker (which
// fills them): "{name}" with name in [A-Za-z0-9_.-]+, "{{" and "}}" for literal braces, and
// every other brace literal, so JSON or shell-looking text such as "{ not a name }" survives.
// Filling is one pass over the template: a value is never scanned again, so a value holding
// "{x}" or quotes or newlines is inserted exactly as given.

namespace te {
namespace {

bool isNameChar(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

// At text[pos] == '{': the length of the name of a placeholder starting there, or 0 when the
// brace does not open one.
size_t nameLengthAt(const std::string& text, size_t pos) {
    size_t end = pos + 1;
    while (end < text.size() && isNameChar(text[end])) ++end;
    if (end == pos + 1 || end >= text.size() || text[end] != '}') return 0;
    return end - pos - 1;
}

// Walks `text` once, calling literal(char) for plain characters and name(string) for each
// placeholder.
template <typename Literal, typename Name>
void scan(const std::string& text, Literal literal, Name name) {
    for (size_t i = 0; i < text.size(); ++i) {
        char ch = text[i];
        bool doubled = i + 1 < text.size() && text[i + 1] == ch;
        if ((ch == '{' || ch == '}') && doubled) {
            literal(ch);
            ++i;
        } else if (ch == '{') {
            size_t len = nameLengthAt(text, i);
            if (len == 0) {
                literal(ch);
            } else {
                name(text.substr(i + 1, len));
                i += len + 1;
            }
        } else {
            literal(ch);
        }
    }
}

}  // namespace

std::string fillPlaceholders(const std::string& text,
                             const std::map<std::string, std::string>& values) {
    std::string out;
    out.reserve(text.size());
    scan(
        text, [&](char ch) { out += ch; },
        [&](const std::string& name) {
            auto it = values.find(name);
            if (it == values.end()) throw ValidationError("no value for input '" + name + "'");
            out += it->second;
        });
    return out;
}

std::vector<std::string> placeholdersOf(const std::string& text) {
    std::vector<std::string> names;
    scan(
        text, [](char) {},
        [&](const std::string& name) {
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        });
    return names;
}

std::set<std::string> placeholdersOf(const TaskClass& task) {
    std::set<std::string> names;
    for (const auto& name : placeholdersOf(task.execCommand)) names.insert(name);
    for (const auto& arg : task.execArgs) {
        for (const auto& name : placeholdersOf(arg)) names.insert(name);
    }
    return names;
}

}  // namespace te
