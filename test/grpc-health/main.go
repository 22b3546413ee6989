// A gRPC health server (grpc.health.v1.Health, google.golang.org/grpc's own implementation) for
// the integration tests of grpc probes: it serves on -port, answers SERVING for the overall
// health ("") and for the service named by -service, and after -fail-after (when set) answers
// NOT_SERVING for both, as an app that went bad would.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	port := flag.Int("port", 9090, "the TCP port to serve on")
	service := flag.String("service", "", "a service name to answer for, beside the overall health")
	failAfter := flag.Duration("fail-after", 0, "answer NOT_SERVING after this long (0: never)")
	flag.Parse()

	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if *service != "" {
		h.SetServingStatus(*service, healthpb.HealthCheckResponse_SERVING)
	}
	if *failAfter > 0 {
		time.AfterFunc(*failAfter, func() {
			fmt.Fprintln(os.Stdout, "grpc-health: now NOT_SERVING")
			h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			if *service != "" {
				h.SetServingStatus(*service, healthpb.HealthCheckResponse_NOT_SERVING)
			}
		})
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, h)
	fmt.Fprintf(os.Stdout, "grpc-health: serving on :%d\n", *port)
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
