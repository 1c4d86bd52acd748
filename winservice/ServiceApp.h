#pragma once

#include <Poco/Util/ServerApplication.h>

#include <string>

#include "shared/config/WorkerConfig.h"

namespace te {

// taskengine-winservice: the worker (WorkerRuntime) as a Windows service. Only Service Control
// Manager glue lives here; POCO's ServerApplication supplies /registerService,
// /unregisterService, /displayName, /description and /startup=automatic|manual, and runs
// main() in the service thread when the SCM starts it.
//
// Config: /config=FILE, else %TASKENGINE_WORKER_CONFIG%, else
// <CommonAppData>\TaskEngine\worker.yaml (C:\ProgramData\TaskEngine\worker.yaml). Relative
// paths in it (work_dir, log_file) are relative to the config file's folder, not to the
// service's current folder (system32).
// Logs go to the Windows Event Log (source "TaskEngine Worker") and to a file
// (log_file, default logs\worker.log beside the config).
class ServiceApp : public Poco::Util::ServerApplication {
public:
    // The name the service is registered under; the MSI uses the same one.
    static constexpr const char* kServiceName = "taskengine-winservice";

    ServiceApp();

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    int main(const std::vector<std::string>& args) override;

private:
    std::string configPath() const;
    void setUpLogging(const WorkerConfig& worker) const;

    bool _infoShown = false;
    std::string _configFile;
};

}  // namespace te
