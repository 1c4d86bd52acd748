#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/SplitterChannel.h>

#include <string>

namespace te {

// Sends every logger, those that exist already included, to `sinks` plus, when logFile is
// set, a rotating file (10 MB, 5 kept); one line format for every program. Throws ConfigError
// "FILE: log_level: unknown level 'x'" before changing anything.
void installLogging(Poco::AutoPtr<Poco::SplitterChannel> sinks, const std::string& logFile,
                    const std::string& level, const std::string& configFile);

}  // namespace te
