#pragma once

#include <atomic>

#include "server/store/Store.h"
#include "shared/Errors.h"

namespace te::test {

// A Store that passes every call to a real one, except while setDown(true): then transact
// throws StoreError as a store does when its database is unreachable. For the "database
// down" behaviour of background loops without stopping a shared database server.
class FaultyStore : public Store {
public:
    explicit FaultyStore(Store& inner) : _inner(inner) {}

    void setDown(bool down) { _down = down; }
    int failures() const { return _failures; }

    void transact(const std::function<void(Tx&)>& fn) override {
        if (_down) {
            ++_failures;
            throw StoreError("database unreachable (FaultyStore)");
        }
        _inner.transact(fn);
    }
    std::string backend() const override { return _inner.backend(); }
    bool ping() override { return !_down && _inner.ping(); }
    int schemaVersion() override { return _inner.schemaVersion(); }

private:
    Store& _inner;
    std::atomic<bool> _down{false};
    std::atomic<int> _failures{0};
};

}  // namespace te::test
