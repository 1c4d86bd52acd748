#include "server/ServerApp.h"
#include "shared/util/ProgramExit.h"

int main(int argc, char** argv) {
    te::ServerApp app;
    const int rc = app.run(argc, argv);
    return te::programExitCode(rc, app.reachedMain());
}
