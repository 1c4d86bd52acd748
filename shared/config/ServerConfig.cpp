#include "shared/config/ServerConfig.h"

#include <cctype>

#include "shared/config/YamlReader.h"

namespace te {
namespace {

void readHttp(const YamlReader& r, const YAML::Node& n, HttpConfig& http) {
    r.expectMap(n, "http",
                {"host", "port", "threads", "queue", "max_body_bytes", "max_json_depth",
                 "max_headers", "timeout"});
    if (n["host"]) http.host = r.str(n["host"], "http.host");
    if (n["port"]) http.port = r.integer(n["port"], "http.port", 0, 65535);
    if (n["threads"]) http.threads = r.integer(n["threads"], "http.threads", 1, 1024);
    if (n["queue"]) http.queue = r.integer(n["queue"], "http.queue", 1, 65536);
    if (n["max_body_bytes"]) {
        http.maxBodyBytes = r.integer(n["max_body_bytes"], "http.max_body_bytes", 1024, 1 << 30);
    }
    if (n["max_json_depth"]) {
        http.maxJsonDepth = r.integer(n["max_json_depth"], "http.max_json_depth", 2, 1000);
    }
    if (n["max_headers"]) {
        http.maxHeaders = r.integer(n["max_headers"], "http.max_headers", 8, 1000);
    }
    if (n["timeout"]) http.timeoutSec = r.integer(n["timeout"], "http.timeout", 1, 3600);
}

void readDispatch(const YamlReader& r, const YAML::Node& n, DispatchConfig& d) {
    r.expectMap(n, "dispatch",
                {"bind", "heartbeat_ms", "liveness", "lease_ms", "wait_for_endpoints_timeout"});
    if (n["bind"]) d.bind = r.str(n["bind"], "dispatch.bind");
    if (n["heartbeat_ms"]) {
        d.heartbeatMs = r.integer(n["heartbeat_ms"], "dispatch.heartbeat_ms", 10, 60000);
    }
    if (n["liveness"]) d.liveness = r.integer(n["liveness"], "dispatch.liveness", 1, 100);
    if (n["lease_ms"]) d.leaseMs = r.integer(n["lease_ms"], "dispatch.lease_ms", 100, 86400000);
    if (n["wait_for_endpoints_timeout"]) {
        d.waitForEndpointsTimeoutSec = r.integer(n["wait_for_endpoints_timeout"],
                                                 "dispatch.wait_for_endpoints_timeout", 1, 86400);
    }
}

void readCallbacks(const YamlReader& r, const YAML::Node& n, CallbackConfig& c) {
    r.expectMap(n, "callbacks",
                {"threads", "timeout", "max_age", "backoff_base_ms", "backoff_max_ms",
                 "allowed_hosts", "signature_header"});
    if (n["threads"]) c.threads = r.integer(n["threads"], "callbacks.threads", 1, 64);
    if (n["timeout"]) c.timeoutSec = r.integer(n["timeout"], "callbacks.timeout", 1, 600);
    if (n["max_age"]) c.maxAgeSec = r.integer(n["max_age"], "callbacks.max_age", 1, 2592000);
    if (n["backoff_base_ms"]) {
        c.backoffBaseMs = r.integer(n["backoff_base_ms"], "callbacks.backoff_base_ms", 1, 3600000);
    }
    if (n["backoff_max_ms"]) {
        c.backoffMaxMs = r.integer(n["backoff_max_ms"], "callbacks.backoff_max_ms", 1, 86400000);
    }
    if (n["allowed_hosts"])
        c.allowedHosts = r.strList(n["allowed_hosts"], "callbacks.allowed_hosts");
    if (n["signature_header"]) {
        c.signatureHeader = r.str(n["signature_header"], "callbacks.signature_header");
    }
}

bool isHex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char ch : s) {
        if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
    }
    return true;
}

ClientConfig readClient(const YamlReader& r, const YAML::Node& n, const std::string& path) {
    r.expectMap(n, path,
                {"name", "api_key", "api_key_sha256", "callback_headers", "callback_endpoints",
                 "callback_secret"});
    ClientConfig c;
    if (!n["name"]) r.fail(path + ".name", "is required");
    c.name = r.str(n["name"], path + ".name");
    if (c.name.empty()) r.fail(path + ".name", "must not be empty");
    if (n["api_key"]) c.apiKey = r.str(n["api_key"], path + ".api_key");
    if (n["api_key_sha256"]) {
        c.apiKeySha256 = r.str(n["api_key_sha256"], path + ".api_key_sha256");
        if (!isHex64(c.apiKeySha256)) {
            r.fail(path + ".api_key_sha256", "must be 64 hexadecimal digits");
        }
        for (char& ch : c.apiKeySha256) ch = static_cast<char>(std::tolower(ch));
    }
    if (c.apiKey.empty() == c.apiKeySha256.empty()) {
        r.fail(path, "needs exactly one of api_key and api_key_sha256");
    }
    if (n["callback_headers"]) {
        c.callbackHeaders = r.strMap(n["callback_headers"], path + ".callback_headers");
    }
    if (n["callback_endpoints"]) {
        c.callbackEndpoints = r.strList(n["callback_endpoints"], path + ".callback_endpoints");
    }
    if (n["callback_secret"])
        c.callbackSecret = r.str(n["callback_secret"], path + ".callback_secret");
    return c;
}

}  // namespace

std::string databaseUrlProblem(const std::string& url) {
    if (url.rfind("sqlite3://", 0) == 0 || url.rfind("postgresql://", 0) == 0) return "";
    return "expected sqlite3://db=PATH or postgresql://..., got '" + url + "'";
}

ServerConfig parseServerConfig(const std::string& yamlText, const std::string& fileName) {
    YamlReader r(fileName);
    YAML::Node root = r.parse(yamlText);
    ServerConfig cfg;
    cfg.file = fileName;
    if (root.IsNull()) return cfg;
    r.expectMap(root, "",
                {"http", "database", "dispatch", "callbacks", "workflows", "clients", "settings",
                 "log_level", "log_file"});
    if (root["http"]) readHttp(r, root["http"], cfg.http);
    if (root["database"]) {
        cfg.database = r.str(root["database"], "database");
        const std::string problem = databaseUrlProblem(cfg.database);
        if (!problem.empty()) r.fail("database", problem);
    }
    if (root["dispatch"]) readDispatch(r, root["dispatch"], cfg.dispatch);
    if (root["callbacks"]) readCallbacks(r, root["callbacks"], cfg.callbacks);
    if (root["workflows"]) cfg.workflows = r.str(root["workflows"], "workflows");
    if (root["log_level"]) cfg.logLevel = r.str(root["log_level"], "log_level");
    if (root["log_file"]) cfg.logFile = r.str(root["log_file"], "log_file");
    if (root["settings"]) cfg.settings = r.strMap(root["settings"], "settings");
    if (const YAML::Node clients = root["clients"]) {
        if (!clients.IsSequence()) r.fail("clients", "must be a list");
        for (size_t i = 0; i < clients.size(); ++i) {
            std::string path = "clients[" + std::to_string(i) + "]";
            ClientConfig c = readClient(r, clients[i], path);
            for (const auto& other : cfg.clients) {
                if (other.name == c.name)
                    r.fail(path + ".name", "duplicate client '" + c.name + "'");
            }
            cfg.clients.push_back(std::move(c));
        }
    }
    return cfg;
}

ServerConfig loadServerConfig(const std::string& path) {
    return parseServerConfig(readFile(path), path);
}

}  // namespace te
