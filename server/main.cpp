#include "server/ServerApp.h"

int main(int argc, char** argv) {
    te::ServerApp app;
    return app.run(argc, argv);
}
