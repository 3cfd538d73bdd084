//go:build !race

package adaptor_test

const raceBuild = false
