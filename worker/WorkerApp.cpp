#include "worker/WorkerApp.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/SplitterChannel.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#ifndef _WIN32
#include <unistd.h>
#endif

#include "shared/Errors.h"
#include "shared/Version.h"
#include "shared/util/Logging.h"
#include "shared/util/Signals.h"
#include "shared/util/SystemdNotify.h"
#include "worker/WorkerRuntime.h"

namespace te {

using Poco::Util::Option;

WorkerApp::WorkerApp(std::string startDir) : _startDir(std::move(startDir)) {
    setUnixOptions(true);
}

void WorkerApp::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);  // --daemon, --umask, --pidfile
    auto value = [&](const char* name, const char* arg, const char* help) {
        options.addOption(Option(name, "", help).required(false).repeatable(false).argument(arg));
    };
    value("config", "FILE", "worker config (YAML); flags below override it");
    value("server", "ENDPOINT", "server dispatch endpoint, e.g. tcp://127.0.0.1:5555");
    value("name", "NAME", "worker name (default: host name + pid)");
    value("queues", "a,b", "comma-separated queues to serve");
    value("slots", "N", "tasks run at once (1..1024)");
    value("work-dir", "DIR", "folder for the tasks' working folders");
    options.addOption(Option("help", "h", "show this help and exit"));
    options.addOption(Option("version", "", "show the version and exit"));
}

void WorkerApp::handleOption(const std::string& name, const std::string& value) {
    ServerApplication::handleOption(name, value);
    if (name == "help") {
        Poco::Util::HelpFormatter help(options());
        help.setCommand(commandName());
        help.setUsage("[--config FILE] [options]");
        help.setHeader(
            "Task Engine worker: runs tasks the server dispatches over ZeroMQ. "
            "SIGTERM/SIGINT stop it gracefully (grace: in the config).");
        help.setUnixStyle(true);
        help.format(std::cout);
        _helpShown = true;
        stopOptionsProcessing();
    } else if (name == "version") {
        std::cout << "taskengine-worker " << kVersion << std::endl;
        _versionShown = true;
        stopOptionsProcessing();
    } else if (name == "config") {
        _configFile = value;
    } else if (name == "server") {
        _server = value;
    } else if (name == "name") {
        _name = value;
    } else if (name == "queues") {
        _queues = value;
    } else if (name == "slots") {
        _slots = value;
    } else if (name == "work-dir") {
        _workDir = value;
    }
}

WorkerConfig WorkerApp::buildConfig() const {
    WorkerConfig config;
    if (!_configFile.empty()) {
        config = loadWorkerConfig(_configFile);
    } else {
        config.file = "(no config file)";
    }
    if (_server) config.server = *_server;
    if (_name) config.name = *_name;
    if (_workDir) config.workDir = *_workDir;
    if (_queues) {
        config.queues.clear();
        Poco::StringTokenizer tokens(
            *_queues, ",",
            Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        for (const auto& q : tokens) config.queues.push_back(q);
        if (config.queues.empty()) throw ConfigError("--queues: must name at least one queue");
    }
    if (_slots) {
        std::size_t used = 0;
        int slots = 0;
        try {
            slots = std::stoi(*_slots, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != _slots->size() || slots < 1 || slots > 1024) {
            throw ConfigError("--slots: must be a whole number from 1 to 1024, not '" + *_slots +
                              "'");
        }
        config.slots = slots;
    }
    if (config.server.empty()) throw ConfigError(config.file + ": server: must not be empty");
    return config;
}

void WorkerApp::setUpLogging(const WorkerConfig& config) const {
    Poco::AutoPtr<Poco::SplitterChannel> sinks(new Poco::SplitterChannel);
    sinks->addChannel(new Poco::ConsoleChannel);
    installLogging(sinks, config.logFile, config.logLevel, config.file);
}

int WorkerApp::main(const std::vector<std::string>&) {
    _reachedMain = true;
    if (_helpShown || _versionShown) return EXIT_OK;
    systemd::takeNotifySocket();
    if (!_startDir.empty()) {
        std::error_code ignored;  // then paths stay relative to where the daemon is
        std::filesystem::current_path(_startDir, ignored);
    }
    WorkerConfig config;
    try {
        config = buildConfig();
        setUpLogging(config);
    } catch (const Error& e) {
        std::cerr << e.what() << std::endl;
        return EXIT_CONFIG;
    }
#ifndef _WIN32
    blockTerminationSignals();
    if (!config.pidFile.empty()) std::ofstream(config.pidFile) << ::getpid() << "\n";
#endif
    WorkerRuntime runtime(config);
    std::string failure;
    bool configFailure = false;
    std::thread thread([&] {
        try {
            runtime.run();
        } catch (const ConfigError& e) {
            failure = e.what();
            configFailure = true;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        // Wake waitForTerminationRequest() when the runtime ends on its own.
        if (!failure.empty()) terminate();
    });
    waitForTerminationRequest();
    // systemd then waits (TimeoutStopSec) for running tasks to finish or be handed back.
    systemd::notify("STOPPING=1");
    runtime.stop();
    thread.join();
#ifndef _WIN32
    if (!config.pidFile.empty()) ::unlink(config.pidFile.c_str());
#endif
    if (!failure.empty()) {
        std::cerr << failure << std::endl;
        return configFailure ? EXIT_CONFIG : EXIT_SOFTWARE;
    }
    return EXIT_OK;
}

}  // namespace te
