# An asyncio echo server and a client of it in one python3 process: the
# client keeps one connection, sends a numbered line every 100 ms and checks
# the echo; prints "echo N" (N lines echoed back in order) or "BAD ...".
# The server also answers clients from outside: "ping" -> "pong N".
import asyncio, sys

count = 0

async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        if line == b"ping\n":
            writer.write(f"pong {count}\n".encode())
        else:
            writer.write(line)
        await writer.drain()
    writer.close()

async def main():
    global count
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        msg = f"line {count + 1}\n".encode()
        writer.write(msg)
        await writer.drain()
        got = await reader.readline()
        if got != msg:
            print(f"BAD sent {msg!r} got {got!r}", flush=True)
            sys.exit(1)
        count += 1
        print(f"echo {count}", flush=True)
        await asyncio.sleep(0.1)

asyncio.run(main())
