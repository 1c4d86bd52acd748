// Placeholder: the PostgreSQL fixture is being written (issue 2).
#include "tests/support/PostgresFixture.h"
