#include "winservice/ServiceApp.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Environment.h>
#include <Poco/EventLogChannel.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SplitterChannel.h>
#include <Poco/UnicodeConverter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <shlobj.h>

#include <exception>
#include <iostream>
#include <thread>

#include "shared/Errors.h"
#include "shared/Version.h"
#include "shared/util/Logging.h"
#include "winservice/EventSource.h"
#include "winservice/ServiceRecovery.h"
#include "worker/WorkerRuntime.h"

namespace te {

using Poco::Util::Option;

namespace {

// The machine-wide application data folder (C:\ProgramData), where the MSI puts worker.yaml
// (its CommonAppDataFolder). Asked of the shell, not read from %ProgramData%: a service's
// environment need not have that variable, or (Wine) may point it elsewhere.
std::string commonAppData() {
    wchar_t path[MAX_PATH] = {};
    if (SUCCEEDED(
            ::SHGetFolderPathW(nullptr, CSIDL_COMMON_APPDATA, nullptr, SHGFP_TYPE_CURRENT, path))) {
        std::string out;
        Poco::UnicodeConverter::toUTF8(path, out);
        return out;
    }
    return Poco::Environment::get("ProgramData", "C:\\ProgramData");
}

// A relative path in the config means "beside the config file".
std::string besideConfig(const std::string& path, const Poco::Path& configDir) {
    if (path.empty() || Poco::Path(path).isAbsolute()) return path;
    return Poco::Path(configDir, path).toString();
}

}  // namespace

ServiceApp::ServiceApp() = default;

void ServiceApp::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);  // /registerService, /unregisterService, ...
    options.addOption(Option("config", "c", "worker config (YAML)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE"));
    options.addOption(Option("help", "h", "show this help and exit"));
    options.addOption(Option("version", "", "show the version and exit"));
}

void ServiceApp::handleOption(const std::string& name, const std::string& value) {
    ServerApplication::handleOption(name, value);
    if (name == "help") {
        Poco::Util::HelpFormatter help(options());
        help.setCommand(commandName());
        help.setUsage(
            "[/config=FILE] [/registerService [/displayName=NAME] [/startup=automatic]] "
            "[/unregisterService]");
        help.setHeader(
            "Task Engine worker as a Windows service. Run from a console it works "
            "in the foreground (Ctrl+C stops it gracefully).");
        help.format(std::cout);
        _infoShown = true;
        stopOptionsProcessing();
    } else if (name == "version") {
        std::cout << "taskengine-winservice " << kVersion << std::endl;
        _infoShown = true;
        stopOptionsProcessing();
    } else if (name == "config") {
        _configFile = value;
    }
}

std::string ServiceApp::configPath() const {
    if (!_configFile.empty()) return _configFile;
    std::string fromEnv = Poco::Environment::get("TASKENGINE_WORKER_CONFIG", "");
    if (!fromEnv.empty()) return fromEnv;
    return Poco::Path(commonAppData()).append("TaskEngine").append("worker.yaml").toString();
}

void ServiceApp::setUpLogging(const WorkerConfig& worker) const {
    Poco::AutoPtr<Poco::SplitterChannel> sinks(new Poco::SplitterChannel);
    if (config().getBool("application.runAsService", false)) {
        registerEventSource();
        sinks->addChannel(new Poco::EventLogChannel(kEventSource));
    } else {
        sinks->addChannel(new Poco::ConsoleChannel);
    }
    // A service has no console: its file log is always on (worker.logFile has a default).
    installLogging(sinks, worker.logFile, worker.logLevel, worker.file);
}

int ServiceApp::main(const std::vector<std::string>&) {
    if (_infoShown) return EXIT_OK;
    const bool asService = config().getBool("application.runAsService", false);
    WorkerConfig worker;
    try {
        worker = loadWorkerConfig(configPath());
        Poco::Path dir = Poco::Path(Poco::Path(worker.file).absolute()).parent();
        worker.workDir = besideConfig(worker.workDir, dir);
        worker.logFile = worker.logFile.empty() ? Poco::Path(dir, "logs\\worker.log").toString()
                                                : besideConfig(worker.logFile, dir);
        Poco::File(worker.workDir).createDirectories();
        setUpLogging(worker);
    } catch (const std::exception& e) {
        // A service has no console: the Event Log is the only place this line can go.
        if (asService) {
            registerEventSource();
            Poco::AutoPtr<Poco::EventLogChannel> events(new Poco::EventLogChannel(kEventSource));
            events->log(Poco::Message("worker", e.what(), Poco::Message::PRIO_FATAL));
        }
        std::cerr << e.what() << std::endl;
        return EXIT_CONFIG;
    }
    if (asService) {
        // Set on every start too, so a service registered by the MSI (which has no table
        // for it that wixl writes) gets restarted on failure as well.
        std::string problem = configureServiceRecovery(kServiceName);
        if (!problem.empty()) logger().warning("service recovery not configured: " + problem);
    }
    logger().information(std::string("taskengine-winservice ") + kVersion + " starting, config " +
                         worker.file);

    WorkerRuntime runtime(worker);
    std::string failure;
    std::thread thread([&] {
        try {
            runtime.run();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        // Wake waitForTerminationRequest() when the runtime ends on its own.
        if (!failure.empty()) terminate();
    });
    // Returns on SERVICE_CONTROL_STOP / SHUTDOWN, or Ctrl+C in a console.
    waitForTerminationRequest();
    logger().information("stop requested: handing back running tasks");
    runtime.stop();
    thread.join();
    if (!failure.empty()) {
        logger().fatal("worker failed: " + failure);
        return EXIT_SOFTWARE;
    }
    logger().information("stopped");
    return EXIT_OK;
}

}  // namespace te
