package ledger

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestKnownOnlyEveryDepth: unknown fields are found in singular fields,
// in lists and deep down, with the path of the message that holds them.
func TestKnownOnlyEveryDepth(t *testing.T) {
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 1)
	name := "x"
	clean := func() *descriptorpb.FileDescriptorProto {
		return &descriptorpb.FileDescriptorProto{
			Name:    &name,
			Options: &descriptorpb.FileOptions{GoPackage: &name},
			MessageType: []*descriptorpb.DescriptorProto{
				{Name: &name, NestedType: []*descriptorpb.DescriptorProto{{Name: &name, Options: &descriptorpb.MessageOptions{}}}},
			},
		}
	}
	if err := knownOnly(clean().ProtoReflect(), "f"); err != nil {
		t.Fatal(err)
	}
	for path, taint := range map[string]func(*descriptorpb.FileDescriptorProto){
		"f":                 func(f *descriptorpb.FileDescriptorProto) { f.ProtoReflect().SetUnknown(unknown) },
		"f.options":         func(f *descriptorpb.FileDescriptorProto) { f.Options.ProtoReflect().SetUnknown(unknown) },
		"f.message_type[0]": func(f *descriptorpb.FileDescriptorProto) { f.MessageType[0].ProtoReflect().SetUnknown(unknown) },
		"f.message_type[0].nested_type[0].options": func(f *descriptorpb.FileDescriptorProto) {
			f.MessageType[0].NestedType[0].Options.ProtoReflect().SetUnknown(unknown)
		},
	} {
		f := clean()
		taint(f)
		err := knownOnly(f.ProtoReflect(), "f")
		if !errors.Is(err, ErrMalformed) || err.Error() != "malformed transaction: unknown field in "+path {
			t.Errorf("%s: got %v", path, err)
		}
	}
}
