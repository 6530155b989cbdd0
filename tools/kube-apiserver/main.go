// Command kube-apiserver is Kubernetes' API server, v1.34.3, built from its module so the
// kind provider's tests can check rendered objects against the real thing (server-side
// dry run) on a machine that cannot pull images.
package main

import (
	"os"

	_ "time/tzdata" // the server's default time zone handling, as upstream's binary

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
