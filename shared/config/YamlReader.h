#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace te {

// Typed access to a YAML node that turns every problem into one ConfigError line
// "FILE: path.to.key: what is wrong" (or ValidationError, for workflow files).
class YamlReader {
public:
    enum class ErrorKind { Config, Validation };

    YamlReader(std::string file, ErrorKind kind = ErrorKind::Config);

    // Parses text; a syntax error names the file, line and column.
    YAML::Node parse(const std::string& text) const;

    [[noreturn]] void fail(const std::string& keyPath, const std::string& message) const;

    // Requires a map node and rejects keys not in `allowed`.
    void expectMap(const YAML::Node& node, const std::string& keyPath,
                   const std::set<std::string>& allowed) const;

    std::string str(const YAML::Node& node, const std::string& keyPath) const;
    int integer(const YAML::Node& node, const std::string& keyPath, long long min,
                long long max) const;
    bool boolean(const YAML::Node& node, const std::string& keyPath) const;
    std::vector<std::string> strList(const YAML::Node& node, const std::string& keyPath) const;
    // Scalars of any kind as strings (a map of env vars may hold numbers).
    std::map<std::string, std::string> strMap(const YAML::Node& node,
                                              const std::string& keyPath) const;

    const std::string& file() const { return _file; }

private:
    std::string _file;
    ErrorKind _kind;
};

std::string readFile(const std::string& path);  // throws ConfigError naming the path

}  // namespace te
