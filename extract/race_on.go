//go:build race

package extract

// raceBuild is true in binaries built with -race: the race runtime maps shadow memory in
// proportion to the address space, so the child cannot hold its own memory to a hard limit.
const raceBuild = true
