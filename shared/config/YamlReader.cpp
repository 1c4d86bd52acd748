#include "shared/config/YamlReader.h"

#include <fstream>
#include <sstream>

#include "shared/Errors.h"

namespace te {

YamlReader::YamlReader(std::string file, ErrorKind kind) : _file(std::move(file)), _kind(kind) {}

void YamlReader::fail(const std::string& keyPath, const std::string& message) const {
    std::string line = _file + ": " + (keyPath.empty() ? "" : keyPath + ": ") + message;
    if (_kind == ErrorKind::Validation) throw ValidationError(line);
    throw ConfigError(line);
}

YAML::Node YamlReader::parse(const std::string& text) const {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        fail("", "line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
}

void YamlReader::expectMap(const YAML::Node& node, const std::string& keyPath,
                           const std::set<std::string>& allowed) const {
    if (!node.IsMap()) fail(keyPath, "must be a mapping");
    for (const auto& kv : node) {
        std::string key = kv.first.Scalar();
        if (!allowed.count(key)) {
            fail(keyPath.empty() ? key : keyPath + "." + key, "unknown key");
        }
    }
}

std::string YamlReader::str(const YAML::Node& node, const std::string& keyPath) const {
    if (!node.IsScalar()) fail(keyPath, "must be a string");
    return node.Scalar();
}

int YamlReader::integer(const YAML::Node& node, const std::string& keyPath, long long min,
                        long long max) const {
    if (!node.IsScalar()) fail(keyPath, "must be an integer");
    const std::string& text = node.Scalar();
    size_t used = 0;
    long long value = 0;
    try {
        value = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size()) fail(keyPath, "must be an integer, got '" + text + "'");
    if (value < min || value > max) {
        fail(keyPath, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          ", got " + text);
    }
    return static_cast<int>(value);
}

bool YamlReader::boolean(const YAML::Node& node, const std::string& keyPath) const {
    if (node.IsScalar()) {
        const std::string& v = node.Scalar();
        if (v == "true" || v == "yes" || v == "on") return true;
        if (v == "false" || v == "no" || v == "off") return false;
    }
    fail(keyPath, "must be true or false");
}

std::vector<std::string> YamlReader::strList(const YAML::Node& node,
                                             const std::string& keyPath) const {
    std::vector<std::string> out;
    if (node.IsScalar()) {  // "a,b" is accepted where a list is expected
        std::stringstream in(node.Scalar());
        for (std::string item; std::getline(in, item, ',');) {
            if (!item.empty()) out.push_back(item);
        }
        return out;
    }
    if (!node.IsSequence()) fail(keyPath, "must be a list of strings");
    for (size_t i = 0; i < node.size(); ++i) {
        out.push_back(str(node[i], keyPath + "[" + std::to_string(i) + "]"));
    }
    return out;
}

std::map<std::string, std::string> YamlReader::strMap(const YAML::Node& node,
                                                      const std::string& keyPath) const {
    std::map<std::string, std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) fail(keyPath, "must be a mapping of strings");
    for (const auto& kv : node) {
        std::string key = kv.first.Scalar();
        out[key] = str(kv.second, keyPath + "." + key);
    }
    return out;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace te
