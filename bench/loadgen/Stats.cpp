#include "bench/loadgen/Stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace te::bench {

void Stats::merge(const Stats& other) {
    _samples.insert(_samples.end(), other._samples.begin(), other._samples.end());
    _sorted = false;
}

double Stats::percentile(double p) {
    if (_samples.empty()) return 0;
    if (!_sorted) {
        std::sort(_samples.begin(), _samples.end());
        _sorted = true;
    }
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(_samples.size())));
    return _samples[std::min(_samples.size(), std::max<size_t>(rank, 1)) - 1];
}

double Stats::mean() const {
    if (_samples.empty()) return 0;
    return std::accumulate(_samples.begin(), _samples.end(), 0.0) /
           static_cast<double>(_samples.size());
}

std::string Stats::json(const std::string& prefix) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "\"%sp50_ms\":%.3f,\"%sp90_ms\":%.3f,\"%sp99_ms\":%.3f,\"%smax_ms\":%.3f,"
                  "\"%smean_ms\":%.3f",
                  prefix.c_str(), percentile(50), prefix.c_str(), percentile(90), prefix.c_str(),
                  percentile(99), prefix.c_str(), percentile(100), prefix.c_str(), mean());
    return buf;
}

}  // namespace te::bench
