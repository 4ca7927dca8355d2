//go:build !race

package extract

// raceBuild is true in binaries built with -race (see race_on.go).
const raceBuild = false
