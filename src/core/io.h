/*
 * io.h — x86 port I/O, memory-mapped register access and the spin-wait
 * hint: what a driver needs from the CPU, exported by src/core/ so that
 * src/drivers/ never reaches into the metal platform's private header.
 *
 * Port I/O is legal only in ring 0 (the VM image); the hosted build never
 * compiles a file that uses it (the Makefile chooses the files). MMIO
 * accessors are single volatile loads and stores of the named width: a
 * device register must be read and written whole, never merged or torn.
 */
#ifndef POLLUX_IO_H
#define POLLUX_IO_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t mmio_read64(uintptr_t a) { return *(volatile uint64_t *)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void mmio_write64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

/* in every spin-wait loop: yields the sibling hyperthread, saves power */
static inline void cpu_relax(void) { __builtin_ia32_pause(); }
#endif
