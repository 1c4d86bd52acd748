#pragma once

#include <Poco/Util/ServerApplication.h>

#include <optional>
#include <string>

#include "shared/config/WorkerConfig.h"

namespace te {

// The taskengine-worker program: flags and config, logging, then a WorkerRuntime until
// SIGTERM/SIGINT, which stops it gracefully (running tasks finish or are handed back).
// Exit codes: 0 clean stop, EXIT_USAGE for a flag the option parser refuses (unknown, or
// without its value; see programExitCode), EXIT_CONFIG for a bad config or flag value (with
// one line on stderr naming the file and key, or the flag), EXIT_SOFTWARE if the runtime
// failed.
class WorkerApp : public Poco::Util::ServerApplication {
public:
    // startDir: the folder the program was started in. --daemon moves to "/"; relative paths
    // of flags and config (work_dir: var/work) are meant relative to startDir.
    explicit WorkerApp(std::string startDir = "");
    // Whether main() ran: run() returns before it when the option parser refuses a flag.
    bool reachedMain() const { return _reachedMain; }

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    int main(const std::vector<std::string>& args) override;

private:
    WorkerConfig buildConfig() const;
    void setUpLogging(const WorkerConfig& config) const;

    std::string _startDir;
    bool _reachedMain = false;
    bool _helpShown = false;
    bool _versionShown = false;
    std::string _configFile;
    std::optional<std::string> _server, _name, _queues, _slots, _workDir;
};

}  // namespace te
