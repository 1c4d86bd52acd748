#pragma once

#include <Poco/Util/ServerApplication.h>

#include <map>
#include <string>

namespace te {

// taskengine-server: options, config, logging, then a te::Server until SIGTERM/SIGINT.
// ServerApplication gives --daemon and --pidfile (and /registerService on Windows).
class ServerApp : public Poco::Util::ServerApplication {
protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleOption(const std::string& name, const std::string& value) override;
    int main(const std::vector<std::string>& args) override;

public:
    // Whether main() ran: run() returns before it when the option parser refuses a flag.
    bool reachedMain() const { return _reachedMain; }

private:
    void printHelp();
    bool _reachedMain = false;
    bool _stop = false;
    std::string _configFile;
    std::string _checkDir;
    std::map<std::string, std::string> _overrides;
};

}  // namespace te
