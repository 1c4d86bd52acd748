// Placeholder: the workflow loader is being written (issue 5).
#include "shared/workflow/Workflow.h"
#include "shared/Errors.h"
namespace te {
const JobDef* WorkflowSet::findJob(const std::string& key) const {
    auto it = jobs.find(key);
    return it == jobs.end() ? nullptr : &it->second;
}
const TaskClass* WorkflowSet::findTask(const std::string& key) const {
    auto it = tasks.find(key);
    return it == tasks.end() ? nullptr : &it->second;
}
std::shared_ptr<const WorkflowSet> loadWorkflows(const std::string&) { throw ValidationError("not implemented"); }
std::shared_ptr<const WorkflowSet> parseWorkflows(const std::string&, const std::string&) { throw ValidationError("not implemented"); }
}  // namespace te
