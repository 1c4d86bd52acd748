#pragma once

#include <string>
#include <vector>

namespace te::bench {

// Latency samples in milliseconds; percentiles by nearest rank.
class Stats {
public:
    void add(double ms) { _samples.push_back(ms); }
    void merge(const Stats& other);
    size_t count() const { return _samples.size(); }
    double percentile(double p);  // sorts on first use after an add
    double mean() const;
    // "\"p50_ms\":..,\"p90_ms\":..,\"p99_ms\":..,\"max_ms\":..,\"mean_ms\":.." (no braces).
    std::string json(const std::string& prefix = "");

private:
    std::vector<double> _samples;
    bool _sorted = false;
};

}  // namespace te::bench
