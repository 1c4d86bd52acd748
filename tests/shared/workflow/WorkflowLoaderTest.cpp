// Tests of shared/workflow/WorkflowLoader.cpp and WorkflowParser.cpp: good files load into the
// model; every bad file gives one line naming the file, the key and the problem.
#include <cppunit/extensions/HelperMacros.h>

#include <sstream>

#include "shared/Errors.h"
#include "shared/workflow/Workflow.h"
#include "tests/support/TestUtil.h"

namespace {

using te::test::TempDir;

// A task class and a job that use it, for cases that break one thing.
const std::string kTask = R"(
tasks:
  fetch:
    input:
      url: {source: parameter}
    exec_command: curl
    exec_args: ["-fsS", "{url}"]
)";

class WorkflowLoaderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkflowLoaderTest);
    CPPUNIT_TEST(testSeedExampleParses);
    CPPUNIT_TEST(testDefaults);
    CPPUNIT_TEST(testTaskClassesAreGlobalAcrossFiles);
    CPPUNIT_TEST(testShippedExamplesLoad);
    CPPUNIT_TEST(testCheckWorkflowsCommand);
    CPPUNIT_TEST(testBadYamlNamesLine);
    CPPUNIT_TEST(testUnknownKeys);
    CPPUNIT_TEST(testWrongTypes);
    CPPUNIT_TEST(testCommandOrBuiltin);
    CPPUNIT_TEST(testBuiltinArguments);
    CPPUNIT_TEST(testUnknownTaskClass);
    CPPUNIT_TEST(testUnknownSpawnTask);
    CPPUNIT_TEST(testUndeclaredPlaceholder);
    CPPUNIT_TEST(testDuplicatesAcrossFiles);
    CPPUNIT_TEST(testDuplicateKeyInOneFile);
    CPPUNIT_TEST(testStages);
    CPPUNIT_TEST(testNegativeNumbers);
    CPPUNIT_TEST(testInputs);
    CPPUNIT_TEST(testEndpoints);
    CPPUNIT_TEST(testEmptyFile);
    CPPUNIT_TEST(testFolders);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSeedExampleParses() {
        auto set = te::loadWorkflows(te::test::sourcePath("tests/fixtures/workflows/seed"));
        CPPUNIT_ASSERT_EQUAL(size_t(3), set->tasks.size());
        CPPUNIT_ASSERT_EQUAL(size_t(1), set->jobs.size());

        const te::TaskClass* exp = set->findTask("export-data");
        CPPUNIT_ASSERT(exp);
        CPPUNIT_ASSERT_EQUAL(std::string("Export Data"), exp->name);
        CPPUNIT_ASSERT_EQUAL(std::string("serialize_data"), exp->execCommand);
        std::vector<std::string> expArgs{"--data_id",       "{data_id}",   "--endpoint",
                                         "{REST_ENDPOINT}", "--log_level", "{LOG_LEVEL}"};
        CPPUNIT_ASSERT(exp->execArgs == expArgs);
        CPPUNIT_ASSERT(exp->input.at("REST_ENDPOINT").source == te::InputSource::Environment);
        CPPUNIT_ASSERT(exp->input.at("data_id").source == te::InputSource::Parameter);

        // The quirks: `- {url}` is the placeholder, the folded scalar loses its newline (its
        // quotes are literal text: there is no shell to remove them).
        const te::TaskClass* dl = set->findTask("download");
        CPPUNIT_ASSERT(dl);
        std::vector<std::string> dlArgs{"-d", "\"--header=Authorization: {basic_auth}\"", "{url}",
                                        "-P", "{output_path}"};
        CPPUNIT_ASSERT(dl->execArgs == dlArgs);
        CPPUNIT_ASSERT_EQUAL(std::string("work"), dl->queue);

        const te::JobDef* job = set->findJob("request-data");
        CPPUNIT_ASSERT(job);
        CPPUNIT_ASSERT_EQUAL(std::string("Requests Data"), job->name);
        CPPUNIT_ASSERT(job->file.find("request-data.yaml") != std::string::npos);
        const te::InputDef& auth = job->input.at("basic_auth");
        CPPUNIT_ASSERT(auth.source == te::InputSource::HttpHeader);
        CPPUNIT_ASSERT_EQUAL(std::string("Authorization"), auth.key);
        CPPUNIT_ASSERT(auth.required);
        CPPUNIT_ASSERT_EQUAL(size_t(2), job->stages.size());
        CPPUNIT_ASSERT_EQUAL(std::string("export-data"), job->stages[0].taskClass);
        CPPUNIT_ASSERT(job->stages[0].spawnTask.empty());
        CPPUNIT_ASSERT(job->stages[0].jobFailedOnError);
        CPPUNIT_ASSERT_EQUAL(std::string("Download Data"), job->stages[1].name);
        CPPUNIT_ASSERT_EQUAL(std::string("download"), job->stages[1].taskClass);
        CPPUNIT_ASSERT_EQUAL(std::string("spawn_download_tasks"), job->stages[1].spawnTask);
        CPPUNIT_ASSERT(!job->stages[1].jobFailedOnError);
        CPPUNIT_ASSERT(!set->findJob("download"));
        CPPUNIT_ASSERT(!set->findTask("request-data"));
    }

    void testDefaults() {
        auto set = te::parseWorkflows(kTask + R"(
  wait:
    builtin: sleep
    exec_args: [2]
    queue: slow
    timeout: 60
    retries: 0
    retry_delay: 7
jobs:
  j:
    input:
      url:
      optional: {required: false, default: "x"}
    rest_endpoints: ["https://example.com/cb"]
    stages:
      - task_class: fetch
      - {task_class: wait, broadcast: true, job_failed_on_error: no}
)",
                                      "flows.yaml");
        const te::TaskClass& fetch = *set->findTask("fetch");
        CPPUNIT_ASSERT_EQUAL(std::string("fetch"), fetch.name);
        CPPUNIT_ASSERT_EQUAL(std::string("work"), fetch.queue);
        CPPUNIT_ASSERT_EQUAL(0, fetch.timeoutSec);
        CPPUNIT_ASSERT(!fetch.retries && !fetch.retryDelaySec);
        CPPUNIT_ASSERT_EQUAL(std::string("flows.yaml"), fetch.file);
        const te::TaskClass& wait = *set->findTask("wait");
        CPPUNIT_ASSERT_EQUAL(std::string("sleep"), wait.builtin);
        CPPUNIT_ASSERT(wait.execArgs == std::vector<std::string>{"2"});
        CPPUNIT_ASSERT_EQUAL(std::string("slow"), wait.queue);
        CPPUNIT_ASSERT_EQUAL(60, wait.timeoutSec);
        CPPUNIT_ASSERT_EQUAL(0, *wait.retries);
        CPPUNIT_ASSERT_EQUAL(7, *wait.retryDelaySec);
        const te::JobDef& j = *set->findJob("j");
        CPPUNIT_ASSERT_EQUAL(std::string("j"), j.name);
        CPPUNIT_ASSERT(j.input.at("url").required);
        CPPUNIT_ASSERT(j.input.at("url").source == te::InputSource::Parameter);
        CPPUNIT_ASSERT(!j.input.at("url").defaultValue);
        CPPUNIT_ASSERT(!j.input.at("optional").required);
        CPPUNIT_ASSERT_EQUAL(std::string("x"), *j.input.at("optional").defaultValue);
        CPPUNIT_ASSERT(j.callbackEndpoints == std::vector<std::string>{"https://example.com/cb"});
        CPPUNIT_ASSERT_EQUAL(std::string("fetch"), j.stages[0].name);
        CPPUNIT_ASSERT(j.stages[0].jobFailedOnError && !j.stages[0].broadcast);
        CPPUNIT_ASSERT(j.stages[1].broadcast && !j.stages[1].jobFailedOnError);
    }

    void testTaskClassesAreGlobalAcrossFiles() {
        TempDir dir;
        te::test::writeFile(dir.file("a-tasks.yaml"), kTask);
        te::test::writeFile(dir.file("b-jobs.yml"),
                            "jobs:\n  j:\n    stages: [{task_class: fetch}]\n");
        te::test::writeFile(dir.file("notes.txt"), "not: [yaml");  // not a workflow file
        auto set = te::loadWorkflows(dir.path());
        CPPUNIT_ASSERT(set->findTask("fetch"));
        CPPUNIT_ASSERT(set->findJob("j"));
        CPPUNIT_ASSERT(set->findJob("j")->file.find("b-jobs.yml") != std::string::npos);
        CPPUNIT_ASSERT(set->findTask("fetch")->file.find("a-tasks.yaml") != std::string::npos);
    }

    void testShippedExamplesLoad() {
        auto set = te::loadWorkflows(te::test::sourcePath("config/workflows"));
        for (const char* job : {"request-data", "vodcapture", "encoding"}) {
            CPPUNIT_ASSERT_MESSAGE(job, set->findJob(job));
        }
        const te::JobDef& vod = *set->findJob("vodcapture");
        CPPUNIT_ASSERT_EQUAL(std::string("windows_capture"),
                             set->findTask(vod.stages.at(1).taskClass)->queue);
        CPPUNIT_ASSERT_EQUAL(std::string("work"),
                             set->findTask(vod.stages.back().taskClass)->queue);
        const te::JobDef& enc = *set->findJob("encoding");
        CPPUNIT_ASSERT_EQUAL(size_t(3), enc.stages.size());
        CPPUNIT_ASSERT(!enc.stages[1].spawnTask.empty());
        CPPUNIT_ASSERT(enc.input.count("source") && enc.input.count("output_dir"));
    }

    void testCheckWorkflowsCommand() {
        TempDir dir;
        te::test::writeFile(dir.file("flows.yaml"),
                            kTask + "jobs:\n  j:\n    stages: [{task_class: fetch}]\n");
        std::ostringstream ok;
        CPPUNIT_ASSERT_EQUAL(0, te::checkWorkflowsCommand(dir.path(), ok));
        CPPUNIT_ASSERT_EQUAL("OK: 1 jobs, 1 task classes in " + dir.path() + "\n", ok.str());

        te::test::writeFile(dir.file("flows.yaml"),
                            "jobs:\n  j:\n    stages: [{task_class: fech}]\n");
        std::ostringstream bad;
        CPPUNIT_ASSERT_EQUAL(1, te::checkWorkflowsCommand(dir.path(), bad));
        CPPUNIT_ASSERT_EQUAL(
            dir.file("flows.yaml") + ": jobs.j.stages[0].task_class: unknown task class 'fech'\n",
            bad.str());
    }

    void testBadYamlNamesLine() {
        std::string e = loadError("tasks:\n  t:\n    exec_command: [unclosed\n");
        assertContains(e, "line ");
        assertContains(e, "column ");
        e = loadError("tasks: [a, b]\n");
        assertContains(e, "tasks: must be a mapping");
        e = loadError("- just\n- a list\n");
        assertContains(e, "must be a mapping with tasks: and/or jobs:");
    }

    void testUnknownKeys() {
        assertError("workflows: {}\n", "workflows: unknown key");
        assertError("tasks:\n  t:\n    exec_command: ls\n    exec_arg: [-l]\n",
                    "tasks.t.exec_arg: unknown key");
        assertError(kTask + "jobs:\n  j:\n    stages: [{task_class: fetch, retry: 2}]\n",
                    "jobs.j.stages[0].retry: unknown key");
        assertError(
            "tasks:\n  t:\n    exec_command: ls\n    input: {a: {source: parameter, requird: "
            "false}}\n",
            "tasks.t.input.a.requird: unknown key");
        assertError(kTask + "jobs:\n  j:\n    stage: [{task_class: fetch}]\n",
                    "jobs.j.stage: unknown key");
    }

    void testWrongTypes() {
        assertError("tasks:\n  t:\n    exec_command: ls\n    timeout: ten\n",
                    "tasks.t.timeout: must be an integer, got 'ten'");
        assertError("tasks:\n  t:\n    exec_command: ls\n    exec_args: -l\n",
                    "tasks.t.exec_args: must be a list of strings");
        assertError("tasks:\n  t:\n    exec_command: ls\n    exec_args: [-l, [x]]\n",
                    "tasks.t.exec_args[1]: must be a string");
        assertError("tasks:\n  t:\n    exec_command: {a: 1, b: 2}\n",
                    "tasks.t.exec_command: must be a string");
        assertError(kTask + "jobs:\n  j:\n    stages: {task_class: fetch}\n",
                    "jobs.j.stages: must be a list of stages");
        assertError(
            kTask + "jobs:\n  j:\n    stages: [{task_class: fetch, job_failed_on_error: maybe}]\n",
            "jobs.j.stages[0].job_failed_on_error: must be true or false");
        assertError("tasks:\n  t: ls\n", "tasks.t: must be a mapping");
        assertError("tasks:\n  t:\n    exec_command: ls\n    input: [a, b]\n",
                    "tasks.t.input: must be a mapping of input names");
    }

    void testCommandOrBuiltin() {
        assertError("tasks:\n  t:\n    exec_args: [-l]\n",
                    "tasks.t: needs exec_command or builtin");
        assertError("tasks:\n  t:\n    exec_command: ls\n    builtin: noop\n",
                    "tasks.t: has both exec_command and builtin");
        assertError("tasks:\n  t:\n    builtin: launch-rockets\n",
                    "tasks.t.builtin: unknown builtin 'launch-rockets'");
        assertError("tasks:\n  t:\n    exec_command: \"\"\n",
                    "tasks.t.exec_command: must not be empty");
    }

    void testBuiltinArguments() {
        assertError("tasks:\n  t:\n    builtin: copy\n    exec_args: [a]\n",
                    "tasks.t.exec_args: builtin 'copy' takes 2 arguments (from, to), got 1");
        assertError("tasks:\n  t:\n    builtin: sleep\n",
                    "tasks.t.exec_args: builtin 'sleep' takes 1 argument");
        assertError("tasks:\n  t:\n    builtin: noop\n    exec_args: [x]\n",
                    "tasks.t.exec_args: builtin 'noop' takes no arguments");
        assertError("tasks:\n  t:\n    builtin: http\n    exec_args: [a, b, c]\n",
                    "tasks.t.exec_args: builtin 'http' takes 1 or 2");
        te::parseWorkflows("tasks:\n  t:\n    builtin: noop\n", "ok.yaml");
    }

    void testUnknownTaskClass() {
        std::string e = assertError(
            R"(
tasks:
  download: {exec_command: "true"}
jobs:
  request-data:
    stages:
      - task_class: download
      - task_class: dowload
)",
            "jobs.request-data.stages[1].task_class: unknown task class 'dowload'");
        assertContains(e, "did you mean 'download'?");
        e = assertError(kTask + "jobs:\n  j:\n    stages: [{task_class: zzzzzzzz}]\n",
                        "jobs.j.stages[0].task_class: unknown task class 'zzzzzzzz'");
        CPPUNIT_ASSERT(e.find("did you mean") == std::string::npos);
    }

    void testUnknownSpawnTask() {
        assertError(kTask + "jobs:\n  j:\n    stages: [{task_class: fetch, spawn_task: spawner}]\n",
                    "jobs.j.stages[0].spawn_task: unknown task class 'spawner'");
    }

    void testUndeclaredPlaceholder() {
        assertError(
            "tasks:\n  t:\n    exec_command: ls\n    input: {a: }\n    exec_args: [\"{a}\", "
            "\"x={b}\"]\n",
            "tasks.t.exec_args[1]: placeholder {b} has no input 'b' declared in tasks.t.input");
        assertError("tasks:\n  t:\n    exec_command: \"{TOOL}\"\n",
                    "tasks.t.exec_command: placeholder {TOOL}");
        // The seed's unquoted `- {url}` counts as a placeholder too.
        assertError("tasks:\n  t:\n    exec_command: wget\n    exec_args:\n    - {url}\n",
                    "tasks.t.exec_args[0]: placeholder {url} has no input 'url'");
        // Escaped braces and non-names are not placeholders.
        te::parseWorkflows(
            "tasks:\n  t:\n    exec_command: echo\n    exec_args: [\"{{x}}\", \"{ y }\"]\n",
            "ok.yaml");
    }

    void testDuplicatesAcrossFiles() {
        TempDir dir;
        te::test::writeFile(dir.file("a.yaml"), kTask);
        te::test::writeFile(dir.file("b.yaml"), kTask);
        std::string e = loadErrorIn(dir);
        CPPUNIT_ASSERT_EQUAL(dir.file("b.yaml") +
                                 ": tasks.fetch: task class 'fetch' is also defined in " +
                                 dir.file("a.yaml"),
                             e);

        TempDir jobs;
        std::string job = "jobs:\n  j:\n    stages: [{task_class: fetch}]\n";
        te::test::writeFile(jobs.file("a.yaml"), kTask + job);
        te::test::writeFile(jobs.file("b.yaml"), job);
        e = loadErrorIn(jobs);
        assertContains(
            e, jobs.file("b.yaml") + ": jobs.j: job 'j' is also defined in " + jobs.file("a.yaml"));
    }

    void testDuplicateKeyInOneFile() {
        assertError("tasks:\n  t:\n    exec_command: ls\n    timeout: 1\n    timeout: 2\n",
                    "tasks.t.timeout: is given twice");
        assertError(kTask + "  fetch:\n    exec_command: ls\n", "tasks.fetch: is given twice");
    }

    void testStages() {
        assertError(kTask + "jobs:\n  j:\n    stages: []\n",
                    "jobs.j.stages: must list at least one stage");
        assertError(kTask + "jobs:\n  j:\n    name: J\n", "jobs.j.stages: is required");
        assertError(kTask + "jobs:\n  j:\n    stages: [{name: s}]\n",
                    "jobs.j.stages[0].task_class: is required");
        assertError(kTask +
                        "jobs:\n  j:\n    stages: [{task_class: fetch, spawn_task: fetch, "
                        "broadcast: true}]\n",
                    "jobs.j.stages[0]: broadcast and spawn_task cannot be combined");
    }

    void testNegativeNumbers() {
        assertError("tasks:\n  t:\n    exec_command: ls\n    timeout: -1\n",
                    "tasks.t.timeout: must be between 0 and");
        assertError("tasks:\n  t:\n    exec_command: ls\n    retries: -3\n",
                    "tasks.t.retries: must be between 0 and 1000, got -3");
        assertError("tasks:\n  t:\n    exec_command: ls\n    retry_delay: -3\n",
                    "tasks.t.retry_delay: must be between 0 and");
    }

    void testInputs() {
        assertError("tasks:\n  t:\n    exec_command: ls\n    input: {a: {source: argument}}\n",
                    "tasks.t.input.a.source: invalid source 'argument' (parameter, environment or "
                    "http-header)");
        assertError(kTask +
                        "jobs:\n  j:\n    input: {auth: {source: http-header}}\n    stages: "
                        "[{task_class: fetch}]\n",
                    "jobs.j.input.auth.key: is required for source: http-header");
        assertError(
            "tasks:\n  t:\n    exec_command: ls\n    input: {a: {source: parameter, key: X}}\n",
            "tasks.t.input.a.key: is only for source: http-header");
        assertError("tasks:\n  t:\n    exec_command: ls\n    input: {\"a b\": {}}\n",
                    "tasks.t.input.a b: an input name may hold only");
        assertError("tasks:\n  t:\n    exec_command: ls\n    input: {a: {required: sometimes}}\n",
                    "tasks.t.input.a.required: must be true or false");
    }

    void testEndpoints() {
        assertError(kTask +
                        "jobs:\n  j:\n    rest_endpoints: [\"ftp://x\"]\n    stages: [{task_class: "
                        "fetch}]\n",
                    "jobs.j.rest_endpoints[0]: must be an http:// or https:// URL, got 'ftp://x'");
    }

    void testEmptyFile() {
        assertError("", "is empty");
        assertError("# only a comment\n", "is empty");
        assertError("tasks:\njobs:\n", "defines no tasks and no jobs");
        assertError("jobs: {}\n", "defines no tasks and no jobs");
    }

    void testFolders() {
        try {
            te::loadWorkflows("/nonexistent/workflows");
            CPPUNIT_FAIL("no exception");
        } catch (const te::ValidationError& e) {
            CPPUNIT_ASSERT_EQUAL(
                std::string("/nonexistent/workflows: workflow folder does not exist"),
                std::string(e.what()));
        }
        TempDir empty;
        te::test::writeFile(empty.file("readme.txt"), "no workflows here");
        try {
            te::loadWorkflows(empty.path());
            CPPUNIT_FAIL("no exception");
        } catch (const te::ValidationError& e) {
            CPPUNIT_ASSERT_EQUAL("no workflow files (*.yaml, *.yml) in " + empty.path(),
                                 std::string(e.what()));
        }
        try {
            te::loadWorkflows(empty.file("readme.txt"));
            CPPUNIT_FAIL("no exception");
        } catch (const te::ValidationError& e) {
            assertContains(e.what(), "is not a folder");
        }
    }

private:
    static void assertContains(const std::string& text, const std::string& part) {
        CPPUNIT_ASSERT_MESSAGE("'" + text + "' lacks '" + part + "'",
                               text.find(part) != std::string::npos);
    }

    static std::string loadErrorIn(const TempDir& dir) {
        try {
            te::loadWorkflows(dir.path());
        } catch (const te::ValidationError& e) {
            std::string what = e.what();
            CPPUNIT_ASSERT_MESSAGE("more than one line: " + what,
                                   what.find('\n') == std::string::npos);
            return what;
        }
        CPPUNIT_FAIL("loaded without an error");
        return {};
    }

    // Writes `yaml` as the only file of a folder and returns the load's error message.
    static std::string loadError(const std::string& yaml) {
        TempDir dir;
        te::test::writeFile(dir.file("flows.yaml"), yaml);
        std::string e = loadErrorIn(dir);
        assertContains(e, dir.file("flows.yaml") + ": ");
        return e;
    }

    static std::string assertError(const std::string& yaml, const std::string& part) {
        std::string e = loadError(yaml);
        assertContains(e, "flows.yaml: " + part);
        return e;
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkflowLoaderTest);

}  // namespace
