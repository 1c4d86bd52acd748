#include "server/ServerApp.h"

#include <Poco/ConsoleChannel.h>
#include <Poco/SplitterChannel.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "server/Server.h"
#include "shared/Errors.h"
#include "shared/Version.h"
#include "shared/config/ServerConfig.h"
#include "shared/util/Logging.h"
#include "shared/util/Signals.h"
#include "shared/util/SystemdNotify.h"
#include "shared/workflow/Workflow.h"

namespace te {

int checkWorkflowsCommand(const std::string& dir, std::ostream& out);

namespace {

int parsePort(const std::string& value) {
    try {
        size_t used = 0;
        int port = std::stoi(value, &used);
        if (used == value.size() && port >= 0 && port <= 65535) return port;
    } catch (const std::exception&) {
    }
    throw ConfigError("--port: must be a number from 0 to 65535, got '" + value + "'");
}

// glibc hands the free top of a thread's heap back to the kernel (madvise) as soon as it
// passes 128 KiB. A store transaction allocates and frees about that much (SQLite cursors and
// pages, SOCI buffers), so nearly every transaction paid an madvise and the next one
// page-faulted the same memory back: 8% of the server's CPU in the one-job round trip, 60% of
// a claim transaction. Freed memory up to 8 MiB now stays in the heap for the next one;
// blocks up to 1 MiB come from the heap, not from a fresh mmap each time (setting one
// threshold freezes glibc's sliding mmap threshold, so both are set). Called before any
// thread starts.
void tuneAllocator() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
#endif
}

void setupLogging(const ServerConfig& cfg) {
    Poco::AutoPtr<Poco::SplitterChannel> sinks(new Poco::SplitterChannel);
    if (cfg.logFile.empty()) sinks->addChannel(new Poco::ConsoleChannel);
    installLogging(sinks, cfg.logFile, cfg.logLevel, cfg.file);
}

}  // namespace

void ServerApp::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    using Poco::Util::Option;
    options.addOption(Option("help", "h", "print this help and exit"));
    options.addOption(Option("version", "v", "print the version and exit"));
    options.addOption(Option("config", "c", "server config file (YAML)").argument("FILE"));
    options.addOption(Option("port", "p", "HTTP port (overrides http.port)").argument("N"));
    options.addOption(Option("database", "d", "database URL: sqlite3://db=PATH or postgresql://...")
                          .argument("URL"));
    options.addOption(
        Option("dispatch", "", "ZeroMQ endpoint workers connect to, e.g. tcp://*:5555")
            .argument("ENDPOINT"));
    options.addOption(Option("workflows", "w", "folder of workflow *.yaml files").argument("DIR"));
    options.addOption(Option("check-workflows", "", "validate the workflow files of DIR and exit")
                          .argument("DIR"));
}

void ServerApp::handleOption(const std::string& name, const std::string& value) {
    ServerApplication::handleOption(name, value);
    if (name == "help") {
        printHelp();
        _stop = true;
        stopOptionsProcessing();
    } else if (name == "version") {
        std::cout << "taskengine-server " << kVersion << std::endl;
        _stop = true;
        stopOptionsProcessing();
    } else if (name == "config") {
        _configFile = value;
    } else if (name == "check-workflows") {
        _checkDir = value;
    } else if (name == "port" || name == "database" || name == "dispatch" || name == "workflows") {
        _overrides[name] = value;
    }
}

void ServerApp::printHelp() {
    Poco::Util::HelpFormatter help(options());
    help.setCommand("taskengine-server");
    help.setUsage(
        "--config FILE [--port N] [--database URL] [--dispatch ENDPOINT] [--workflows DIR]");
    help.setHeader("Task Engine server: REST API, job engine, scheduler, dispatch and callbacks.");
    help.setFooter("Flags override the config file. SIGTERM or SIGINT stops it cleanly.");
    help.format(std::cout);
}

int ServerApp::main(const std::vector<std::string>&) {
    _reachedMain = true;
    if (_stop) return EXIT_OK;
    if (!_checkDir.empty())
        return checkWorkflowsCommand(_checkDir, std::cout) == 0 ? EXIT_OK : EXIT_DATAERR;
    tuneAllocator();
    systemd::takeNotifySocket();
    blockTerminationSignals();  // before any thread starts
    ServerConfig cfg;
    try {
        if (!_configFile.empty()) cfg = loadServerConfig(_configFile);
        for (const auto& [name, value] : _overrides) {
            if (name == "port") cfg.http.port = parsePort(value);
            if (name == "database") {
                const std::string problem = databaseUrlProblem(value);
                if (!problem.empty()) throw ConfigError("--database: " + problem);
                cfg.database = value;
            }
            if (name == "dispatch") cfg.dispatch.bind = value;
            if (name == "workflows") cfg.workflows = value;
        }
        setupLogging(cfg);
    } catch (const Error& e) {
        std::cerr << "taskengine-server: " << e.what() << std::endl;
        return EXIT_CONFIG;
    }
    Server server(cfg);
    try {
        server.start();
    } catch (const Error& e) {
        std::cerr << "taskengine-server: " << e.what() << std::endl;
        return EXIT_CONFIG;
    } catch (const std::exception& e) {
        std::cerr << "taskengine-server: cannot start: " << e.what() << std::endl;
        return EXIT_SOFTWARE;
    }
    // Only now, with the schema migrated and both ports bound: units ordered after this one
    // (workers on the same host) start once it can take their connections.
    systemd::notify("READY=1\nSTATUS=serving HTTP on " + cfg.http.host + ":" +
                    std::to_string(cfg.http.port));
    waitForTerminationRequest();
    systemd::notify("STOPPING=1");
    Poco::Logger::get("server").information("stopping");
    server.stop();
    return EXIT_OK;
}

}  // namespace te
