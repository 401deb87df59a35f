//go:build tools

// Package tools pins the Pulumi CLI's main package in this module, so that go.mod and go.sum
// record exactly the dependency set scripts/install-engine builds `pulumi` from. The module
// exists only to be the main module of that build: its replace directive (copied from
// pulumi/pkg's own go.mod, where it is not inherited by dependents) then applies.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
