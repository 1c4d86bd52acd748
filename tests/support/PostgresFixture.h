#pragma once

#include <string>
#include <vector>

namespace te::test {

// A throwaway PostgreSQL cluster for the tests of one program: initdb + pg_ctl in a temp
// folder owned by an unprivileged user (initdb refuses root), listening on a free port on
// 127.0.0.1 only, stopped and removed when the program exits, or by the next program's fixture
// if this one was killed first (its folder names the owner's pid). Started on first use. If it
// cannot start, instance() throws with the reason (initdb/pg_ctl output): tests fail loudly,
// nothing is skipped.
class PostgresFixture {
public:
    static PostgresFixture& instance();

    // A new, empty database in the cluster; returns its SOCI URL
    // "postgresql://host=127.0.0.1 port=N dbname=te_N user=U". The cluster runs with
    // synchronous_commit off, for speed; commitsWait turns it on for this database (as in
    // production), for tests that crash the cluster.
    std::string freshDatabase(bool commitsWait = false);
    int port() const;
    // Stops and starts the cluster again (the "database restarts" tests); data is kept.
    void restart();
    // The same after a crash (pg_ctl stop -m immediate): what was committed without waiting
    // for the disk may be gone; recovery replays the rest.
    void crashAndRestart();
    void stop();
    void start();

    // Stops and removes the clusters under `root` whose program is gone (killed before its
    // destructor ran: ctest's timeout, kill -9); returns how many. Every fixture calls it on
    // its folder's root (/tmp, or TE_PG_FIXTURE_ROOT) before it makes its own cluster.
    static int reapAbandonedClusters(const std::string& root);

    PostgresFixture(const PostgresFixture&) = delete;
    PostgresFixture& operator=(const PostgresFixture&) = delete;
    ~PostgresFixture();

private:
    PostgresFixture();
    struct Impl;
    Impl* _impl;
};

// The URLs every store-backed test runs against: a fresh SQLite file in `dir` and a fresh
// PostgreSQL database from the fixture.
std::vector<std::string> backendUrls(const std::string& dir);

}  // namespace te::test
