#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shared/Errors.h"
#include "shared/config/YamlReader.h"
#include "shared/workflow/Workflow.h"
#include "shared/workflow/WorkflowParser.h"

namespace te {
namespace fs = std::filesystem;

namespace {

// Levenshtein distance, for "did you mean" on a misspelt task class.
size_t editDistance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknownTaskMessage(const WorkflowSet& set, const std::string& name) {
    std::string message = "unknown task class '" + name + "'";
    std::string best;
    size_t bestDistance = 3;  // suggest only near misses
    for (const auto& kv : set.tasks) {
        size_t d = editDistance(name, kv.first);
        if (d < bestDistance) {
            bestDistance = d;
            best = kv.first;
        }
    }
    if (!best.empty()) message += " (did you mean '" + best + "'?)";
    return message;
}

std::string readWorkflowFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ValidationError(path.string() + ": cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

namespace workflow {

void checkReferences(const WorkflowSet& set) {
    for (const auto& [key, job] : set.jobs) {
        YamlReader r(job.file, YamlReader::ErrorKind::Validation);
        for (size_t i = 0; i < job.stages.size(); ++i) {
            const StageDef& stage = job.stages[i];
            std::string path = "jobs." + key + ".stages[" + std::to_string(i) + "]";
            if (!set.findTask(stage.taskClass)) {
                r.fail(path + ".task_class", unknownTaskMessage(set, stage.taskClass));
            }
            if (!stage.spawnTask.empty() && !set.findTask(stage.spawnTask)) {
                r.fail(path + ".spawn_task", unknownTaskMessage(set, stage.spawnTask));
            }
        }
    }
}

}  // namespace workflow

const JobDef* WorkflowSet::findJob(const std::string& key) const {
    auto it = jobs.find(key);
    return it == jobs.end() ? nullptr : &it->second;
}

const TaskClass* WorkflowSet::findTask(const std::string& key) const {
    auto it = tasks.find(key);
    return it == tasks.end() ? nullptr : &it->second;
}

std::shared_ptr<const WorkflowSet> parseWorkflows(const std::string& yamlText,
                                                  const std::string& fileName) {
    auto set = std::make_shared<WorkflowSet>();
    workflow::parseWorkflowFile(yamlText, fileName, *set);
    workflow::checkReferences(*set);
    return set;
}

// A folder without workflow files is an error, not an empty set: a server started on the wrong
// folder would otherwise come up fine and refuse every job with "unknown workflow".
std::shared_ptr<const WorkflowSet> loadWorkflows(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw ValidationError(dir + ": workflow folder does not exist");
    if (!fs::is_directory(dir, ec)) throw ValidationError(dir + ": is not a folder");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::string ext = entry.path().extension().string();
        if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file()) {
            files.push_back(entry.path());
        }
    }
    if (ec) throw ValidationError(dir + ": cannot be listed: " + ec.message());
    if (files.empty()) throw ValidationError("no workflow files (*.yaml, *.yml) in " + dir);
    std::sort(files.begin(), files.end());

    auto set = std::make_shared<WorkflowSet>();
    for (const auto& path : files) {
        workflow::parseWorkflowFile(readWorkflowFile(path), path.string(), *set);
    }
    workflow::checkReferences(*set);
    return set;
}

int checkWorkflowsCommand(const std::string& dir, std::ostream& out) {
    try {
        auto set = loadWorkflows(dir);
        out << "OK: " << set->jobs.size() << " jobs, " << set->tasks.size() << " task classes in "
            << dir << "\n";
        return 0;
    } catch (const std::exception& e) {
        // ValidationError already names the file and key; anything else (a filesystem fault)
        // is reported the same way, as one line.
        out << e.what() << "\n";
        return 1;
    }
}

}  // namespace te
