package password_test

import (
	"fmt"

	"github.com/wardauth/ward/internal/password"
)

func Example() {
	encoded, err := password.Hash("correct horse battery staple")
	if err != nil {
		panic(err)
	}
	ok, err := password.Verify("correct horse battery staple", encoded)
	fmt.Println(ok, err)
	ok, err = password.Verify("wrong", encoded)
	fmt.Println(ok, err)

	// Unknown user: spend the same time, then fail.
	fmt.Println(password.DummyVerify("whatever"))
	// Output:
	// true <nil>
	// false <nil>
	// false
}
