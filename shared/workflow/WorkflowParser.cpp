#include "shared/workflow/WorkflowParser.h"

#include <set>

#include "shared/config/YamlReader.h"

// The shape of a workflow file is docs/workflows.md. Every problem ends the load with one line
// naming the file and the key path, so an operator can fix files one message at a time.

namespace te::workflow {
namespace {

constexpr long long kMaxSeconds = 366LL * 24 * 3600;  // a year: anything longer is a typo
constexpr long long kMaxRetries = 1000;

const std::set<std::string> kBuiltins = {"noop", "sleep", "http", "copy", "move"};

bool isInputName(const std::string& name) {
    if (name.empty()) return false;
    for (char ch : name) {
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

// yaml-cpp keeps both entries of a repeated key; a second `timeout:` silently ignored would
// be a trap, so every map read here is checked.
void expectUniqueKeys(const YamlReader& r, const YAML::Node& node, const std::string& path) {
    std::set<std::string> seen;
    for (const auto& kv : node) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        std::string where = path.empty() ? key : path + "." + key;
        if (key.empty()) r.fail(path, "keys must be non-empty names");
        if (!seen.insert(key).second) r.fail(where, "is given twice");
    }
}

void expectMap(const YamlReader& r, const YAML::Node& node, const std::string& path,
               const std::set<std::string>& allowed) {
    r.expectMap(node, path, allowed);
    expectUniqueKeys(r, node, path);
}

// Text keys such as name and description: an empty `description:` (null) is just empty.
std::string optionalText(const YamlReader& r, const YAML::Node& node, const std::string& path) {
    if (node.IsNull()) return {};
    return r.str(node, path);
}

std::string nonEmpty(const YamlReader& r, const YAML::Node& node, const std::string& path) {
    std::string value = r.str(node, path);
    if (value.empty()) r.fail(path, "must not be empty");
    return value;
}

// One command or argument template. Two quirks of hand-written files (the seed has both):
// an unquoted `- {url}` is a YAML flow map {url: null}, meant as the placeholder "{url}"; and
// a folded `>` scalar ends in a newline nobody wants in an argv element.
std::string argText(const YamlReader& r, const YAML::Node& node, const std::string& path) {
    if (node.IsMap() && node.size() == 1) {
        auto kv = *node.begin();
        if (kv.first.IsScalar() && kv.second.IsNull() && isInputName(kv.first.Scalar())) {
            return "{" + kv.first.Scalar() + "}";
        }
    }
    if (!node.IsScalar()) {
        r.fail(path, "must be a string (quote an argument that holds ': ' or starts with '{')");
    }
    std::string text = node.Scalar();
    if (!text.empty() && text.back() == '\n') {
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                                 text.back() == '\t')) {
            text.pop_back();
        }
    }
    return text;
}

InputSource readSource(const YamlReader& r, const YAML::Node& node, const std::string& path) {
    std::string s = r.str(node, path);
    if (s == "parameter") return InputSource::Parameter;
    if (s == "environment") return InputSource::Environment;
    if (s == "http-header") return InputSource::HttpHeader;
    r.fail(path, "invalid source '" + s + "' (parameter, environment or http-header)");
}

std::map<std::string, InputDef> readInputs(const YamlReader& r, const YAML::Node& node,
                                           const std::string& path) {
    std::map<std::string, InputDef> inputs;
    if (node.IsNull()) return inputs;
    if (!node.IsMap()) r.fail(path, "must be a mapping of input names");
    expectUniqueKeys(r, node, path);
    for (const auto& kv : node) {
        std::string name = kv.first.Scalar();
        std::string p = path + "." + name;
        if (!isInputName(name)) r.fail(p, "an input name may hold only A-Z a-z 0-9 _ . -");
        InputDef def;
        const YAML::Node& n = kv.second;
        if (!n.IsNull()) {
            expectMap(r, n, p, {"description", "source", "key", "required", "default"});
            if (n["description"])
                def.description = optionalText(r, n["description"], p + ".description");
            if (n["source"]) def.source = readSource(r, n["source"], p + ".source");
            if (n["key"]) def.key = nonEmpty(r, n["key"], p + ".key");
            if (n["required"]) def.required = r.boolean(n["required"], p + ".required");
            if (n["default"]) def.defaultValue = r.str(n["default"], p + ".default");
        }
        if (def.source == InputSource::HttpHeader && def.key.empty()) {
            r.fail(p + ".key", "is required for source: http-header (the header name)");
        }
        if (def.source != InputSource::HttpHeader && !def.key.empty()) {
            r.fail(p + ".key", "is only for source: http-header");
        }
        inputs[name] = def;
    }
    return inputs;
}

std::vector<std::string> readArgs(const YamlReader& r, const YAML::Node& node,
                                  const std::string& path) {
    std::vector<std::string> args;
    if (node.IsNull()) return args;
    if (!node.IsSequence()) r.fail(path, "must be a list of strings");
    for (size_t i = 0; i < node.size(); ++i) {
        args.push_back(argText(r, node[i], path + "[" + std::to_string(i) + "]"));
    }
    return args;
}

// Builtins take their arguments from exec_args (Protocol.h, ASSIGN); a wrong count would only
// show when the task runs, so it is caught here.
void checkBuiltinArgs(const YamlReader& r, const TaskClass& t, const std::string& path) {
    size_t n = t.execArgs.size();
    const std::string& b = t.builtin;
    std::string expected;
    if (b == "noop" && n != 0) expected = "no arguments";
    if (b == "sleep" && n != 1) expected = "1 argument (seconds)";
    if (b == "http" && (n < 1 || n > 2)) expected = "1 or 2 arguments (url, method)";
    if ((b == "copy" || b == "move") && n != 2) expected = "2 arguments (from, to)";
    if (!expected.empty()) {
        r.fail(path + ".exec_args",
               "builtin '" + b + "' takes " + expected + ", got " + std::to_string(n));
    }
}

void checkPlaceholders(const YamlReader& r, const TaskClass& t, const std::string& path) {
    auto check = [&](const std::string& text, const std::string& where) {
        for (const auto& name : placeholdersOf(text)) {
            if (!t.input.count(name)) {
                r.fail(where, "placeholder {" + name + "} has no input '" + name +
                                  "' declared in " + path + ".input");
            }
        }
    };
    check(t.execCommand, path + ".exec_command");
    for (size_t i = 0; i < t.execArgs.size(); ++i) {
        check(t.execArgs[i], path + ".exec_args[" + std::to_string(i) + "]");
    }
}

TaskClass readTask(const YamlReader& r, const YAML::Node& n, const std::string& key,
                   const std::string& path) {
    expectMap(r, n, path,
              {"name", "description", "input", "exec_command", "builtin", "exec_args", "queue",
               "timeout", "retries", "retry_delay"});
    TaskClass t;
    t.key = key;
    t.file = r.file();
    t.name = n["name"] ? optionalText(r, n["name"], path + ".name") : std::string();
    if (t.name.empty()) t.name = key;
    if (n["description"]) t.description = optionalText(r, n["description"], path + ".description");
    if (n["input"]) t.input = readInputs(r, n["input"], path + ".input");
    if (n["exec_command"]) {
        t.execCommand = argText(r, n["exec_command"], path + ".exec_command");
        if (t.execCommand.empty()) r.fail(path + ".exec_command", "must not be empty");
    }
    if (n["builtin"]) {
        t.builtin = r.str(n["builtin"], path + ".builtin");
        if (!kBuiltins.count(t.builtin)) {
            r.fail(path + ".builtin",
                   "unknown builtin '" + t.builtin + "' (noop, sleep, http, copy or move)");
        }
    }
    if (t.execCommand.empty() && t.builtin.empty()) r.fail(path, "needs exec_command or builtin");
    if (!t.execCommand.empty() && !t.builtin.empty()) {
        r.fail(path, "has both exec_command and builtin; give one");
    }
    if (n["exec_args"]) t.execArgs = readArgs(r, n["exec_args"], path + ".exec_args");
    if (n["queue"]) t.queue = nonEmpty(r, n["queue"], path + ".queue");
    if (n["timeout"]) t.timeoutSec = r.integer(n["timeout"], path + ".timeout", 0, kMaxSeconds);
    if (n["retries"]) t.retries = r.integer(n["retries"], path + ".retries", 0, kMaxRetries);
    if (n["retry_delay"]) {
        t.retryDelaySec = r.integer(n["retry_delay"], path + ".retry_delay", 0, kMaxSeconds);
    }
    checkPlaceholders(r, t, path);
    if (!t.builtin.empty()) checkBuiltinArgs(r, t, path);
    return t;
}

StageDef readStage(const YamlReader& r, const YAML::Node& n, const std::string& path) {
    expectMap(r, n, path, {"name", "task_class", "spawn_task", "job_failed_on_error", "broadcast"});
    StageDef s;
    if (!n["task_class"]) r.fail(path + ".task_class", "is required");
    s.taskClass = nonEmpty(r, n["task_class"], path + ".task_class");
    s.name = n["name"] ? optionalText(r, n["name"], path + ".name") : std::string();
    if (s.name.empty()) s.name = s.taskClass;
    if (n["spawn_task"]) s.spawnTask = nonEmpty(r, n["spawn_task"], path + ".spawn_task");
    if (n["job_failed_on_error"]) {
        s.jobFailedOnError = r.boolean(n["job_failed_on_error"], path + ".job_failed_on_error");
    }
    if (n["broadcast"]) s.broadcast = r.boolean(n["broadcast"], path + ".broadcast");
    if (s.broadcast && !s.spawnTask.empty()) {
        r.fail(path, "broadcast and spawn_task cannot be combined");
    }
    return s;
}

std::vector<std::string> readEndpoints(const YamlReader& r, const YAML::Node& n,
                                       const std::string& path) {
    std::vector<std::string> urls;
    if (n.IsNull()) return urls;
    if (!n.IsSequence()) r.fail(path, "must be a list of URLs");
    for (size_t i = 0; i < n.size(); ++i) {
        std::string p = path + "[" + std::to_string(i) + "]";
        std::string url = r.str(n[i], p);
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
            r.fail(p, "must be an http:// or https:// URL, got '" + url + "'");
        }
        urls.push_back(url);
    }
    return urls;
}

JobDef readJob(const YamlReader& r, const YAML::Node& n, const std::string& key,
               const std::string& path) {
    expectMap(r, n, path, {"name", "description", "input", "stages", "rest_endpoints"});
    JobDef j;
    j.key = key;
    j.file = r.file();
    j.name = n["name"] ? optionalText(r, n["name"], path + ".name") : std::string();
    if (j.name.empty()) j.name = key;
    if (n["description"]) j.description = optionalText(r, n["description"], path + ".description");
    if (n["input"]) j.input = readInputs(r, n["input"], path + ".input");
    const YAML::Node stages = n["stages"];
    if (!stages || stages.IsNull()) r.fail(path + ".stages", "is required (a list of stages)");
    if (!stages.IsSequence()) r.fail(path + ".stages", "must be a list of stages");
    if (stages.size() == 0) r.fail(path + ".stages", "must list at least one stage");
    for (size_t i = 0; i < stages.size(); ++i) {
        j.stages.push_back(readStage(r, stages[i], path + ".stages[" + std::to_string(i) + "]"));
    }
    if (n["rest_endpoints"]) {
        j.callbackEndpoints = readEndpoints(r, n["rest_endpoints"], path + ".rest_endpoints");
    }
    return j;
}

// Iterates a `tasks:` or `jobs:` map; null (an empty section) is an empty map.
template <typename Read>
void eachEntry(const YamlReader& r, const YAML::Node& node, const std::string& section, Read read) {
    if (node.IsNull()) return;
    if (!node.IsMap()) r.fail(section, "must be a mapping of names to definitions");
    expectUniqueKeys(r, node, section);
    for (const auto& kv : node)
        read(kv.first.Scalar(), kv.second, section + "." + kv.first.Scalar());
}

}  // namespace

void parseWorkflowFile(const std::string& yamlText, const std::string& file, WorkflowSet& into) {
    YamlReader r(file, YamlReader::ErrorKind::Validation);
    YAML::Node root = r.parse(yamlText);
    if (root.IsNull()) r.fail("", "is empty; a workflow file defines tasks:, jobs: or both");
    if (!root.IsMap()) r.fail("", "must be a mapping with tasks: and/or jobs:");
    expectMap(r, root, "", {"tasks", "jobs"});
    size_t before = into.tasks.size() + into.jobs.size();

    if (root["tasks"]) {
        eachEntry(r, root["tasks"], "tasks",
                  [&](const std::string& key, const YAML::Node& n, const std::string& path) {
                      if (const TaskClass* other = into.findTask(key)) {
                          r.fail(path,
                                 "task class '" + key + "' is also defined in " + other->file);
                      }
                      into.tasks[key] = readTask(r, n, key, path);
                  });
    }
    if (root["jobs"]) {
        eachEntry(r, root["jobs"], "jobs",
                  [&](const std::string& key, const YAML::Node& n, const std::string& path) {
                      if (const JobDef* other = into.findJob(key)) {
                          r.fail(path, "job '" + key + "' is also defined in " + other->file);
                      }
                      into.jobs[key] = readJob(r, n, key, path);
                  });
    }
    if (into.tasks.size() + into.jobs.size() == before) {
        r.fail("", "defines no tasks and no jobs");
    }
}

}  // namespace te::workflow
