#pragma once

// Internal to shared/workflow: the two halves of loading. Parsing checks one file on its own
// (shape, types, placeholders against the task's inputs); checking references needs every
// file of the folder, because task classes are global across files.

#include <string>

#include "shared/workflow/Workflow.h"

namespace te::workflow {

// Parses one file's text and adds its task classes and jobs to `into`. Throws ValidationError
// "FILE: key.path: message" on the first problem, including a task or job name that `into`
// already holds (from another file).
void parseWorkflowFile(const std::string& yamlText, const std::string& file, WorkflowSet& into);

// Checks what needs the whole set: every stage's task_class and spawn_task name a task class.
// Throws ValidationError naming the job's file.
void checkReferences(const WorkflowSet& set);

}  // namespace te::workflow
