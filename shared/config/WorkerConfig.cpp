#include "shared/config/WorkerConfig.h"

#include "shared/config/YamlReader.h"

namespace te {

WorkerConfig parseWorkerConfig(const std::string& yamlText, const std::string& fileName) {
    YamlReader r(fileName);
    YAML::Node root = r.parse(yamlText);
    WorkerConfig cfg;
    cfg.file = fileName;
    if (root.IsNull()) return cfg;
    r.expectMap(root, "",
                {"server", "name", "queues", "slots", "work_dir", "env", "keep_work_dirs",
                 "min_free_disk_mb", "heartbeat_ms", "liveness", "grace", "log_level", "log_file",
                 "pid_file"});
    if (root["server"]) cfg.server = r.str(root["server"], "server");
    if (root["name"]) cfg.name = r.str(root["name"], "name");
    if (root["queues"]) {
        cfg.queues = r.strList(root["queues"], "queues");
        if (cfg.queues.empty()) r.fail("queues", "must name at least one queue");
    }
    if (root["slots"]) cfg.slots = r.integer(root["slots"], "slots", 1, 1024);
    if (root["work_dir"]) cfg.workDir = r.str(root["work_dir"], "work_dir");
    if (root["env"]) cfg.env = r.strMap(root["env"], "env");
    if (root["keep_work_dirs"])
        cfg.keepWorkDirs = r.boolean(root["keep_work_dirs"], "keep_work_dirs");
    if (root["min_free_disk_mb"]) {
        cfg.minFreeDiskMb = r.integer(root["min_free_disk_mb"], "min_free_disk_mb", 0, 1 << 30);
    }
    if (root["heartbeat_ms"]) {
        cfg.heartbeatMs = r.integer(root["heartbeat_ms"], "heartbeat_ms", 10, 60000);
    }
    if (root["liveness"]) cfg.liveness = r.integer(root["liveness"], "liveness", 1, 100);
    if (root["grace"]) cfg.graceSec = r.integer(root["grace"], "grace", 0, 86400);
    if (root["log_level"]) cfg.logLevel = r.str(root["log_level"], "log_level");
    if (root["log_file"]) cfg.logFile = r.str(root["log_file"], "log_file");
    if (root["pid_file"]) cfg.pidFile = r.str(root["pid_file"], "pid_file");
    return cfg;
}

WorkerConfig loadWorkerConfig(const std::string& path) {
    return parseWorkerConfig(readFile(path), path);
}

}  // namespace te
