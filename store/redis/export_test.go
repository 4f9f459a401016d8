package smartredis

import "testing"

// For the external tests (package smartredis_test): a redis-server of
// their own.
var StartServer = func(tb testing.TB) string { return startServer(tb).addr }
