// Package searchtest is the conformance suite every search engine passes: Run indexes a fixture
// through search.Engine.Apply and checks what a user would see — hits, totals, facet counts,
// highlights, scope, versioning and errors — against hand-written expectations and a
// brute-force evaluation of the fixture.
package searchtest
