#pragma once

#include <stdexcept>
#include <string>

namespace te {

// The one exception hierarchy of the project. The HTTP layer maps these to status codes in one
// place (server/http/ErrorMapping); everything else lets them travel up.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bad input from a client or a file: 400 over HTTP, a one-line message at start-up.
class ValidationError : public Error {
public:
    using Error::Error;
};

// A job, task or route that does not exist, or that belongs to another client: 404.
class NotFoundError : public Error {
public:
    using Error::Error;
};

// A request that is well-formed but not allowed in the current state: 409.
class ConflictError : public Error {
public:
    using Error::Error;
};

// The database failed (connection lost, constraint, SQL error): 503 where retrying helps.
class StoreError : public Error {
public:
    using Error::Error;
};

// PostgreSQL gave up a transaction so that another could go on: a deadlock (40P01) or a
// serialization failure (40001). Running the transaction again is the remedy.
class StoreRaceError : public StoreError {
public:
    using StoreError::StoreError;
};

// A bad config file or flag. what() is one line naming the file and the key.
class ConfigError : public Error {
public:
    using Error::Error;
};

}  // namespace te
