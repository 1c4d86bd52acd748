#pragma once

#include <map>
#include <string>
#include <vector>

namespace te {

struct ClientConfig {
    std::string name;
    std::string apiKey;                                  // plain key, or
    std::string apiKeySha256;                            // lower-case hex SHA-256 of the key
    std::map<std::string, std::string> callbackHeaders;  // sent with every callback
    std::vector<std::string> callbackEndpoints;          // called for every job of the client
    std::string callbackSecret;  // non-empty: sign callbacks with HMAC-SHA256
};

struct HttpConfig {
    std::string host = "0.0.0.0";
    int port = 8080;
    int threads = 16;            // request threads
    int queue = 64;              // accepted connections waiting for a thread
    int maxBodyBytes = 1 << 20;  // 413 above this
    int maxJsonDepth = 64;       // 400 above this
    int maxHeaders = 64;         // 400 above this
    int timeoutSec = 30;         // receive/send timeout of a connection
};

struct DispatchConfig {
    std::string bind = "tcp://*:5555";
    int heartbeatMs = 1000;
    int liveness = 3;                     // missed heartbeats before a worker is forgotten
    int leaseMs = 30000;                  // a task's lease; renewed while its worker heartbeats
    int waitForEndpointsTimeoutSec = 60;  // targeted copies not received by then: incomplete
};

struct CallbackConfig {
    int threads = 2;
    int timeoutSec = 10;
    int maxAgeSec = 86400;     // retried until this old, then dead
    int backoffBaseMs = 1000;  // first retry delay; doubled each time with jitter
    int backoffMaxMs = 300000;
    std::vector<std::string> allowedHosts;  // empty: any host
    std::string signatureHeader = "X-TaskEngine-Signature";
};

struct ServerConfig {
    std::string file;  // the file it was read from, for messages
    HttpConfig http;
    std::string database = "sqlite3://db=var/taskengine.db";
    DispatchConfig dispatch;
    CallbackConfig callbacks;
    std::string workflows = "config/workflows";
    std::vector<ClientConfig> clients;
    std::map<std::string, std::string> settings;  // initial settings (POST /settings overrides)
    std::string logLevel = "information";
    std::string logFile;  // empty: console
};

// Reads the YAML of DESIGN.md. Throws ConfigError "FILE: KEY: what is wrong" on the first
// problem: unreadable file, bad YAML, unknown key, wrong type, out-of-range value.
ServerConfig loadServerConfig(const std::string& path);
// What is wrong with a `database` value ("" when the store can open it: sqlite3://... or
// postgresql://...), for the config file's check and the --database flag's alike.
std::string databaseUrlProblem(const std::string& url);
ServerConfig parseServerConfig(const std::string& yamlText, const std::string& fileName);

}  // namespace te
