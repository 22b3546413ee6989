// Reads a /stats/summary document on stdin and decodes it strictly into the kubelet's own
// stats/v1alpha1.Summary: a field the type lacks, or a value of the wrong type, fails with the
// decoder's message. On success prints the node's name and how many pods it read.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

func main() {
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	var s statsapi.Summary
	if err := dec.Decode(&s); err != nil {
		fmt.Fprintf(os.Stderr, "summary-check: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("node %s, %d pods\n", s.Node.NodeName, len(s.Pods))
}
