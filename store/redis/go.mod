module github.com/smartguard/smartguard/store/redis

go 1.26.0

require github.com/redis/go-redis/v9 v9.23.0

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/rs/cors v1.11.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/smartguard/smartguard v0.0.0
)

replace github.com/smartguard/smartguard => ../..
