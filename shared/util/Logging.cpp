#include "shared/util/Logging.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>

#include "shared/Errors.h"

namespace te {

void installLogging(Poco::AutoPtr<Poco::SplitterChannel> sinks, const std::string& logFile,
                    const std::string& level, const std::string& configFile) {
    int priority = 0;
    try {
        priority = Poco::Logger::parseLevel(level);
    } catch (const Poco::Exception&) {
        throw ConfigError(configFile + ": log_level: unknown level '" + level + "'");
    }
    if (!logFile.empty()) {
        Poco::Path parent = Poco::Path(logFile).parent();
        if (!parent.toString().empty()) Poco::File(parent).createDirectories();
        Poco::AutoPtr<Poco::FileChannel> file(new Poco::FileChannel(logFile));
        file->setProperty("rotation", "10 M");
        file->setProperty("archive", "number");
        file->setProperty("purgeCount", "5");
        sinks->addChannel(file);
    }
    // UTC, like every timestamp the API returns.
    Poco::AutoPtr<Poco::PatternFormatter> pattern(
        new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(pattern, sinks));
    Poco::Logger::root().setChannel(channel);
    Poco::Logger::root().setLevel(priority);
    // Loggers made before this call (Logger::get by name) keep their old channel unless told.
    Poco::Logger::setChannel("", channel);
    Poco::Logger::setLevel("", priority);
}

}  // namespace te
