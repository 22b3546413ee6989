// Builds the gRPC health server of the grpc probe tests (build.sh). Pinned to the grpc the
// control plane's build already brings into the module cache.
module vic-kubelet/test/grpc-health

go 1.24.4

require google.golang.org/grpc v1.72.1

require (
	golang.org/x/net v0.35.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
	golang.org/x/text v0.22.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20250218202821-56aae31c358a // indirect
	google.golang.org/protobuf v1.36.5 // indirect
)
