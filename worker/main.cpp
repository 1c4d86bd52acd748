// taskengine-worker: everything lives in the taskengine_worker library (worker/WorkerApp).
#include <filesystem>
#include <system_error>

#include "shared/util/ProgramExit.h"
#include "worker/WorkerApp.h"

int main(int argc, char** argv) {
    std::error_code ignored;
    te::WorkerApp app(std::filesystem::current_path(ignored).string());
    const int rc = app.run(argc, argv);
    return te::programExitCode(rc, app.reachedMain());
}
