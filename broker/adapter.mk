# The Socket.IO Redis adapter codec (channels, broadcasts, requests and
# responses of @socket.io/redis-adapter / redis-emitter), I/O-free, in
# libpdbroker.a with the other codecs.
libpdbroker_a_SOURCES += broker/adapter_codec.c broker/adapter_codec.h
