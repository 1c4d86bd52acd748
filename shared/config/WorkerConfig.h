#pragma once

#include <map>
#include <string>
#include <vector>

namespace te {

struct WorkerConfig {
    std::string file;
    std::string server = "tcp://127.0.0.1:5555";
    std::string name;  // empty: host name + pid
    std::vector<std::string> queues = {"work"};
    int slots = 2;
    std::string workDir = "var/work";
    std::map<std::string, std::string> env;  // inputs with source: environment
    bool keepWorkDirs = false;               // keep each task's folder after it ends
    long long minFreeDiskMb = 100;           // take no task below this free space in workDir
    int heartbeatMs = 1000;
    int liveness = 3;
    int graceSec = 30;  // SIGTERM: running tasks get this long to finish
    std::string logLevel = "information";
    std::string logFile;
    std::string pidFile;
};

// Throws ConfigError "FILE: KEY: what is wrong".
WorkerConfig loadWorkerConfig(const std::string& path);
WorkerConfig parseWorkerConfig(const std::string& yamlText, const std::string& fileName);

}  // namespace te
