package pulsartest

// The generated code is committed; regenerate after editing the .proto with
// protoc (Debian package protobuf-compiler) and protoc-gen-go v1.36.12
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
//go:generate protoc --proto_path=internal/pb --go_out=internal/pb --go_opt=paths=source_relative internal/pb/pulsar_api.proto
